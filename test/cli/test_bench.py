"""`hpe-ros bench --quick` with tiny settings: every stage of every pipeline in the JSON, sane numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hpe_ros.cli.main import main
from hpe_ros.pipelines.registry import pipeline_spec

STAGES = {
    "blazepose": {"2d", "lift", "place"},
    "topdown": {"boxes", "crop", "2d", "lift", "place"},
    "eventhpe": {"event_frames", "flownet", "shapenet", "smpl"},
}
NETWORKS = {
    "blazepose": {"detector._detector", "detector._landmarks", "lifter.model"},
    "topdown": {"pose_backend", "lifter_backend"},
    "eventhpe": {"smpl"},  # FlowNet and ShapeNet: modules or backends, whichever the pipeline holds
}
MESSAGES = {
    "blazepose": {"skeletons", "skeleton_markers"},
    "topdown": {"skeletons", "skeleton_markers"},
    "eventhpe": {"skeletons", "bodies", "skeleton_markers", "mesh_markers"},
}


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


@pytest.mark.slow
def test_quick_bench_reports_every_stage_with_positive_finite_times(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--frames", "1", "--warmup", "0", "--people", "1", "2", "--bag-frames", "2",
            "--backends", "torch", "onnxruntime", "--set", "topdown.flip_test=false",
            "--set", "topdown.lifter_flip_test=false", "--set", "eventhpe.input_size=64", "--json", str(out)]
    assert main(argv) == 0
    table = capsys.readouterr().out
    report = json.loads(out.read_text())

    cases = {(c["pipeline"], c["backend"], c["people"]): c for c in report["cases"]}
    with_backends = "backend" in pipeline_spec("eventhpe").defaults  # an option of some versions
    event_backends = ("torch", "onnxruntime") if with_backends else ("torch",)
    assert set(cases) == {
        ("blazepose", "litert", 1), ("blazepose", "litert", 2), ("topdown", "torch", 1),
        ("topdown", "torch", 2), ("topdown", "onnxruntime", 1), ("topdown", "onnxruntime", 2),
        *(("eventhpe", backend, 1) for backend in event_backends),
    }  # fmt: skip
    for (pipeline, _, people), case in cases.items():
        assert STAGES[pipeline] <= set(case["stages_ms"]), case["stages_ms"]
        assert NETWORKS[pipeline] <= set(case["networks_ms"]), case["networks_ms"]
        assert set(case["message_parts_ms"]) == MESSAGES[pipeline]
        timed = [case[k] for k in ("total_ms", "network_ms", "overhead_ms", "messages_ms", "frames_per_s",
                                   "overhead_share", "build_s")]
        timed += [*case["networks_ms"].values(), *case["message_parts_ms"].values()]
        timed += [case["stages_ms"][stage] for stage in STAGES[pipeline]]
        assert all(_positive(v) for v in timed), case
        assert case["network_ms"] < case["total_ms"]
        if pipeline == "eventhpe":  # the networks found are the ones that run in those stages
            assert case["network_ms"] > 0.5 * (case["stages_ms"]["flownet"] + case["stages_ms"]["shapenet"])
        assert case["frames"] == 1
        # random weights still find the boxed people (topdown) and the one tracked body (eventhpe)
        if pipeline != "blazepose":
            assert case["people_found"] == people
        assert case["within_goal"] == (case["overhead_share"] <= 0.15)

    ratios = {(r["pipeline"], r["people"], r["backend"]) for r in report["backends_vs_torch"]}
    assert ratios == {("topdown", 1, "onnxruntime"), ("topdown", 2, "onnxruntime"),
                      *(("eventhpe", 1, b) for b in event_backends if b != "torch")}
    assert all(_positive(r["total_speedup"]) and _positive(r["network_speedup"])
               for r in report["backends_vs_torch"])

    bags = {b["pipeline"]: b for b in report["bags"]}
    assert set(bags) == {"blazepose", "eventhpe"}  # the topdown bag is --full only
    for bag in bags.values():
        assert bag["processed"] == bag["input_frames"] >= 2 and _positive(bag["frames_per_s"])
        assert bag["messages_written"] >= bag["processed"]

    goal = report["overhead_goal"]
    assert goal["goal_share"] == 0.15 and goal["met"] == (not goal["cases_over"])
    assert report["machine"]["torch_threads"] >= 1 and report["seconds"] > 0
    assert "Goal: pipeline overhead + message conversion <= 15 %" in table
    assert "topdown 2p onnxruntime: whole frame x" in table
