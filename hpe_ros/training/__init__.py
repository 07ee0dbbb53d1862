"""Training loops and their data: the default lifter, the papers' lifters, PoSh, HSJP, EventHPE."""
