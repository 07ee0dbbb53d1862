"""NetworkClock: time inside watched networks, nested calls counted once, pipelines left as they were."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from hpe_ros.evaluation.bench.timing import NetworkClock


class _Sleepy(nn.Module):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.inner = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        return self.inner(x)


class _Owner:
    def __init__(self) -> None:
        self.net = _Sleepy(0.02)
        self.runtime = lambda x: (time.sleep(0.01), x)[1]  # a non-torch network (ONNX Runtime, LiteRT)


def test_outer_and_nested_calls_count_once_per_outer_call() -> None:
    owner, clock = _Owner(), NetworkClock()
    assert clock.watch(owner, "net") and clock.watch(owner, "net.inner") and clock.watch(owner, "runtime")
    began = time.perf_counter()
    owner.net(torch.zeros(1, 2))
    owner.runtime(np.zeros(3))
    wall = time.perf_counter() - began
    assert clock.calls == {"net": 1, "runtime": 1}  # net.inner ran inside net: not counted apart
    assert clock.seconds["net"] >= 0.02 and clock.seconds["runtime"] >= 0.01
    assert clock.total_s <= wall
    clock.reset()
    owner.net.inner(torch.zeros(1, 2))  # called alone, the inner one counts
    assert clock.calls == {"net.inner": 1}


def test_missing_paths_are_skipped_and_unwatch_restores_everything() -> None:
    owner, clock = _Owner(), NetworkClock()
    runtime = owner.runtime
    assert not clock.watch(owner, "absent") and not clock.watch(owner, "absent.deeper")
    assert not clock.watch(owner, "net.seconds")  # a number is no network
    clock.watch(owner, "net")
    clock.watch(owner, "runtime")
    assert owner.runtime is not runtime
    clock.unwatch()
    assert owner.runtime is runtime
    assert not owner.net._forward_hooks and not owner.net._forward_pre_hooks
    owner.net(torch.zeros(1, 2))
    assert clock.calls == {}


def test_sync_runs_around_each_outer_call() -> None:
    events: list[str] = []
    owner, clock = _Owner(), NetworkClock(sync=lambda: events.append("sync"))
    clock.watch(owner, "net")
    clock.watch(owner, "net.inner")
    owner.net(torch.zeros(1, 2))
    assert events == ["sync", "sync"]
