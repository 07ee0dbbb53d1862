"""Pipelines: frames in, people out (:mod:`.base` is the contract, :mod:`.registry` builds them by name)."""
