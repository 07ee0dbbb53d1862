"""What every pipeline hands on per person: metric placement (size prior or depth) and the SMPL mesh."""
