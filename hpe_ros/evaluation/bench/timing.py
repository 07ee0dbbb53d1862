"""Wall-clock timing: back-to-back calls, and the time a pipeline spends inside its networks.

:class:`NetworkClock` adds up the seconds spent in chosen networks while a pipeline runs, without
changing the pipeline: torch modules get forward hooks, other callables (ONNX Runtime and
TensorRT backends, LiteRT models) a thin timing wrapper. Calls nested inside an outer watched
call (a backend calling its module, a module its sub-modules) are counted once, by the outer one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from torch import nn


def call_times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Seconds each of ``repeats`` back-to-back calls of ``fn`` took."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(call_times(fn, repeats))


def best_time(fn: Callable[[], object], repeats: int) -> float:
    return min(call_times(fn, repeats))


class _Timed:
    """A callable that reports its calls to a clock; every other attribute is the wrapped object's."""

    def __init__(self, inner: Any, clock: NetworkClock, label: str) -> None:
        self.__dict__.update(_inner=inner, _clock=clock, _label=label)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._clock.enter(self._label)
        try:
            return self._inner(*args, **kwargs)
        finally:
            self._clock.exit(self._label)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class NetworkClock:
    """Seconds spent in watched networks since the last :meth:`reset`, in total and by label.

    ``sync`` runs before a watched call starts and after it ends (``torch.cuda.synchronize`` on a
    GPU, where calls return before the work is done).
    """

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        self.sync = sync
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._depth = 0
        self._started = 0.0
        self._undo: list[Callable[[], None]] = []

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    def reset(self) -> None:
        self.seconds, self.calls = {}, {}

    def enter(self, label: str) -> None:
        self._depth += 1
        if self._depth == 1:
            if self.sync is not None:
                self.sync()
            self._started = time.perf_counter()

    def exit(self, label: str) -> None:
        self._depth -= 1
        if self._depth == 0:
            if self.sync is not None:
                self.sync()
            elapsed = time.perf_counter() - self._started
            self.seconds[label] = self.seconds.get(label, 0.0) + elapsed
            self.calls[label] = self.calls.get(label, 0) + 1

    def watch(self, owner: Any, path: str, label: str | None = None) -> bool:
        """Time the network at the dotted attribute ``path`` of ``owner``; False where there is none."""
        *parents, name = path.split(".")
        for part in parents:
            owner = getattr(owner, part, None)
            if owner is None:
                return False
        target = getattr(owner, name, None)
        label = label or path
        if target is None or isinstance(target, _Timed):
            return False
        if isinstance(target, nn.Module):
            handles = (
                target.register_forward_pre_hook(lambda *_: self.enter(label)),
                target.register_forward_hook(lambda *_: self.exit(label)),
            )
            self._undo.extend(handle.remove for handle in handles)
        elif callable(target):
            setattr(owner, name, _Timed(target, self, label))
            self._undo.append(lambda: setattr(owner, name, target))
        else:
            return False
        return True

    def unwatch(self) -> None:
        """Remove every hook and wrapper, newest first."""
        while self._undo:
            self._undo.pop()()
