"""The RGB path: person boxes, BlazePose, top-down and bottom-up 2D pose, crops, codecs, lifting."""
