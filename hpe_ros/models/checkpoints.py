"""Loading published checkpoints safely and strictly.

Checkpoints are read with ``torch.load(weights_only=True)`` (no pickle code runs), and every
load compares keys and shapes first: a mismatch raises :class:`CheckpointMismatchError`
whose message lists what is missing, unexpected and mis-shaped, never a silent
``strict=False``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

StateDict = dict[str, torch.Tensor]


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read or has an unexpected structure."""


class CheckpointMismatchError(CheckpointError):
    """A state dict does not match a model's parameters; the message holds the diff."""

    def __init__(self, diff: KeyDiff, model_name: str) -> None:
        self.diff = diff
        super().__init__(f"checkpoint does not fit {model_name}:\n{diff.report()}")


@dataclass(frozen=True)
class KeyDiff:
    """Differences between a model's state dict and a checkpoint's."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def report(self, max_lines: int = 25) -> str:
        lines: list[str] = []

        def section(title: str, rows: list[str]) -> None:
            if rows:
                lines.append(f"  {title} ({len(rows)}):")
                lines.extend(f"    {row}" for row in rows[:max_lines])
                if len(rows) > max_lines:
                    lines.append(f"    ... and {len(rows) - max_lines} more")

        section("missing in checkpoint", self.missing)
        section("unexpected in checkpoint", self.unexpected)
        section(
            "shape differs (model vs checkpoint)",
            [f"{key}: {tuple(a)} vs {tuple(b)}" for key, a, b in self.mismatched],
        )
        return "\n".join(lines) if lines else "  keys and shapes match"


def read_checkpoint(path: str | os.PathLike[str]) -> object:
    """Read a ``.pth``/``.pt``/``.tar`` file with ``weights_only=True`` onto the CPU."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error


def unwrap_state_dict(obj: object, container_keys: Iterable[str] = ("state_dict", "model")) -> StateDict:
    """Return the tensor mapping inside a checkpoint object.

    Training scripts save either the state dict itself or a dict holding it under a key such
    as ``state_dict`` or ``model`` next to optimizer state and epoch counters.
    """
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint holds a {type(obj).__name__}, not a state dict")
    for key in container_keys:
        inner = obj.get(key)
        if isinstance(inner, Mapping):
            return unwrap_state_dict(inner, container_keys)
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"no tensors in checkpoint; top-level keys: {sorted(map(str, obj))[:10]}")
    return dict(tensors)


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> StateDict:
    """Remove ``prefix`` from every key that has it (e.g. DataParallel's ``module.``)."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def select_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> StateDict:
    """Keys under ``prefix``, with the prefix removed (e.g. ``backbone.`` of mmpose)."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def rename_keys(state: Mapping[str, torch.Tensor], rename: Callable[[str], str | None]) -> StateDict:
    """Apply ``rename`` to every key; keys it maps to ``None`` are dropped."""
    out: StateDict = {}
    for key, value in state.items():
        new_key = rename(key)
        if new_key is not None:
            out[new_key] = value
    return out


def diff_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> KeyDiff:
    """Compare ``state`` against ``model.state_dict()`` by key and shape."""
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in state)
    unexpected = sorted(k for k in state if k not in expected)
    mismatched = sorted(
        (k, tuple(expected[k].shape), tuple(state[k].shape))
        for k in expected
        if k in state and tuple(expected[k].shape) != tuple(state[k].shape)
    )
    return KeyDiff(missing, unexpected, mismatched)


def load_strict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Load ``state`` into ``model`` after checking that keys and shapes match exactly."""
    diff = diff_state_dict(model, state)
    if not diff.ok:
        raise CheckpointMismatchError(diff, type(model).__name__)
    model.load_state_dict(dict(state), strict=True)
