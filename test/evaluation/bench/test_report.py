"""The benchmark report: backends against torch of the same case, the overhead goal, JSON and table."""

from __future__ import annotations

import json

from hpe_ros.evaluation.bench.report import BenchReport, format_report
from hpe_ros.evaluation.bench.stages import CaseResult


def _case(backend: str, people: int, total: float, network: float, messages: float = 1.0) -> CaseResult:
    overhead = total - network
    return CaseResult(
        pipeline="topdown", backend=backend, device="cpu", people=people, people_found=people, frames=3,
        build_s=1.0, total_ms=total, network_ms=network, overhead_ms=overhead, messages_ms=messages,
        frames_per_s=1e3 / (total + messages), overhead_share=(overhead + messages) / network,
        stages_ms={"2d": network}, networks_ms={"pose_backend": network},
        message_parts_ms={"skeletons": messages},
    )  # fmt: skip


def test_backends_are_compared_with_torch_of_the_same_crowd_and_the_goal_names_the_cases_over() -> None:
    report = BenchReport({"cpu": "test"}, {}, [
        _case("torch", 1, 110.0, 100.0), _case("onnxruntime", 1, 55.0, 50.0),
        _case("torch", 5, 400.0, 380.0), _case("onnxruntime", 5, 300.0, 200.0),  # 100 ms overhead: over
    ])  # fmt: skip
    ratios = {(r.people, r.backend): (r.total_speedup, r.network_speedup) for r in report.backend_ratios()}
    assert ratios == {(1, "onnxruntime"): (2.0, 2.0), (5, "onnxruntime"): (400.0 / 300.0, 1.9)}
    goal = report.overhead_goal()
    assert not goal["met"] and goal["cases_over"] == ["topdown/onnxruntime/5p"]
    assert goal["worst_share"] == (100.0 + 1.0) / 200.0
    data = json.loads(json.dumps(report.to_json()))
    assert [c["within_goal"] for c in data["cases"]] == [True, True, True, False]
    table = format_report(report)
    assert "NOT met in topdown/onnxruntime/5p" in table
    assert "topdown 5p onnxruntime: whole frame x1.33" in table


def test_goal_met_when_every_case_is_within_it() -> None:
    report = BenchReport({}, {}, [_case("torch", 1, 110.0, 100.0)])
    assert report.overhead_goal()["met"] and "15 % of network time: met" in format_report(report)
    assert not BenchReport({}, {}).overhead_goal()["met"]  # nothing measured is no evidence
