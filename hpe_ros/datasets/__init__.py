"""Loaders that turn lifting data sets (Human3.6M, MPI-INF-3DHP) into :class:`LiftingSamples`."""

from hpe_ros.datasets.samples import (
    LiftingSamples,
    concatenate_samples,
    denormalize_screen,
    normalize_screen,
)

__all__ = ["LiftingSamples", "concatenate_samples", "denormalize_screen", "normalize_screen"]
