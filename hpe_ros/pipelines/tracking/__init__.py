"""Identities over time: matching people to tracks, the tracking stage the nodes run, smoothing."""
