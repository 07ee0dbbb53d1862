"""torchrun with 2 CPU processes (gloo): killed and resumed runs end where uninterrupted ones do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hpe_ros.training.distributed import (
    SINGLE_PROCESS,
    DistributedContext,
    init_distributed,
    shard_fields,
    shard_slice,
    shard_weight,
)
from hpe_ros.training.eventhpe import FlowNetBatch

WORKER = Path(__file__).with_name("ddp_worker.py")
KINDS = ("lifter", "flownet", "shapenet", "default_lifter")
LENGTH = {"lifter": 3, "flownet": 2, "shapenet": 2, "default_lifter": 6}  # epochs, or steps


def _run(out: Path, kinds: str, processes: int = 2, die_after: str = "") -> int:
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [sys.executable, *(launcher if processes > 1 else []), str(WORKER), str(out), kinds]
    if die_after:
        command += ["--die-after", die_after]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        environment.pop(name, None)
    return subprocess.run(command, env=environment, capture_output=True, timeout=600).returncode


def _checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _done(checkpoint: dict) -> int:
    """Completed epochs, or steps for the default lifter."""
    return checkpoint["epoch"] if "epoch" in checkpoint else checkpoint["step"]


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.slow
def test_killed_and_resumed_runs_equal_the_uninterrupted_one(tmp_path: Path) -> None:
    kinds = ",".join(KINDS)
    assert _run(tmp_path / "whole", kinds) == 0
    # SIGKILL right after that epoch's (step's) checkpoint; each run resumes what the last one left
    for die_after in ("lifter:1", "flownet:1", "shapenet:1", "default_lifter:2", "default_lifter:4"):
        kind, done = die_after.split(":")
        assert _run(tmp_path / "killed", kinds, die_after=die_after) != 0
        progress = _checkpoint(tmp_path / "killed" / kind / "last.pt")
        assert _done(progress) == int(done)
    assert _run(tmp_path / "killed", kinds) == 0
    for kind in KINDS:
        whole, resumed = (_checkpoint(tmp_path / run / kind / "last.pt") for run in ("whole", "killed"))
        assert _done(whole) == _done(resumed) == LENGTH[kind]
        _assert_same_weights(whole["model"], resumed["model"])
        for key in ("history", "losses", "scheduler", "schedule"):
            assert whole.get(key) == resumed.get(key), key
    # two processes on slices of each batch take the single process's steps, up to float order
    assert _run(tmp_path / "single", "lifter", processes=1) == 0
    single = _checkpoint(tmp_path / "single" / "lifter" / "last.pt")
    two = _checkpoint(tmp_path / "whole" / "lifter" / "last.pt")
    for name, value in single["model"].items():
        # attention key biases: exactly zero gradients (softmax ignores them) become rounding noise,
        # which Adam's normalisation turns into whole steps; the outputs do not depend on them
        if not name.endswith("attn.qkv.bias"):
            torch.testing.assert_close(two["model"][name], value, rtol=1e-4, atol=1e-5)
    for ours, reference in zip(two["history"], single["history"], strict=True):
        assert ours == pytest.approx(reference, rel=1e-6)


@pytest.mark.slow
def test_cli_train_runs_under_torchrun(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "hpe_ros.cli.main", "train", "--dataset", "h36m-frames",
               "--data", str(shared_data / "h36m_frames"), "--epochs", "2", "--batch-size", "2",
               "--output", str(out), "--model", "capf_baseline", "--model-arg", "dim=16",
               "--model-arg", "depth=1"]
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained 2 epochs in 2 processes") == 1  # printed by rank 0 only
    assert _checkpoint(out / "last.pt")["epoch"] == 2


def test_plain_process_is_a_world_of_one(monkeypatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    context = init_distributed()
    assert (context.rank, context.world_size, context.is_main, context.is_distributed) == (0, 1, True, False)


def test_shards_cover_the_batch_and_weights_restore_the_global_mean() -> None:
    for size in (4, 5, 7):
        for world in (1, 2, 3):
            contexts = [DistributedContext(rank=r, world_size=world) for r in range(world)]
            parts = [shard_slice(size, c) for c in contexts]
            assert [i for p in parts for i in range(p.start, p.stop)] == list(range(size))
            values = torch.arange(size, dtype=torch.float64)
            # DDP averages the ranks' gradients: the mean of weighted shard means is the batch mean
            pairs = zip(parts, contexts, strict=True)
            weighted = [values[p].mean() * shard_weight(size, c) for p, c in pairs]
            averaged = sum(weighted)
            assert float(averaged / world) == pytest.approx(float(values.mean()))


def test_shard_fields_cuts_every_batch_tensor() -> None:
    batch = FlowNetBatch(events=torch.arange(5.0)[:, None], image1=torch.zeros(5, 1), image2=torch.ones(5, 1),
                         dt=torch.arange(5.0))
    second = shard_fields(batch, 5, DistributedContext(rank=1, world_size=2))
    assert second.dt.tolist() == [2.0, 3.0, 4.0] and second.events.shape == (3, 1)
    assert shard_fields(batch, 5, SINGLE_PROCESS).dt.tolist() == batch.dt.tolist()
