"""The benchmark's results: JSON for machines, a table for people, and the overhead goal."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from hpe_ros.evaluation.bench.stages import OVERHEAD_GOAL, CaseResult


@dataclass
class BagResult:
    """``hpe-ros process`` over a bag made for the benchmark."""

    pipeline: str
    input: str  # what the bag holds
    input_frames: int  # images, or event windows
    processed: int
    people: int  # in all results
    seconds: float  # processing, models already loaded
    frames_per_s: float
    messages_written: int


@dataclass
class BackendRatio:
    """A backend against torch eager on the same pipeline and crowd, in the same run."""

    pipeline: str
    people: int
    backend: str
    total_speedup: float  # torch total / this backend's total: above 1 is faster
    network_speedup: float


@dataclass
class BenchReport:
    machine: dict[str, Any]
    settings: dict[str, Any]
    cases: list[CaseResult] = field(default_factory=list)
    bags: list[BagResult] = field(default_factory=list)
    seconds: float = 0.0

    def backend_ratios(self) -> list[BackendRatio]:
        torch_cases = {(c.pipeline, c.people): c for c in self.cases if c.backend == "torch"}
        ratios = []
        for case in self.cases:
            reference = torch_cases.get((case.pipeline, case.people))
            if reference is None or case is reference:
                continue
            ratios.append(BackendRatio(
                case.pipeline, case.people, case.backend, _ratio(reference.total_ms, case.total_ms),
                _ratio(reference.network_ms, case.network_ms),
            ))
        return ratios

    def overhead_goal(self) -> dict[str, Any]:
        """Whether overhead + message conversion stay within :data:`OVERHEAD_GOAL` of network time."""
        over = [_case_name(c) for c in self.cases if not c.within_goal]
        worst = max(self.cases, key=lambda c: c.overhead_share, default=None)
        return {
            "goal_share": OVERHEAD_GOAL,
            "met": not over and bool(self.cases),
            "cases_over": over,
            "worst_case": _case_name(worst) if worst else None,
            "worst_share": worst.overhead_share if worst else None,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "seconds": self.seconds,
            "cases": [dataclasses.asdict(c) | {"within_goal": c.within_goal} for c in self.cases],
            "backends_vs_torch": [dataclasses.asdict(r) for r in self.backend_ratios()],
            "bags": [dataclasses.asdict(b) for b in self.bags],
            "overhead_goal": self.overhead_goal(),
        }


def _ratio(reference: float, value: float) -> float:
    return reference / value if value > 0 else math.inf


def _case_name(case: CaseResult) -> str:
    return f"{case.pipeline}/{case.backend}/{case.people}p"


def _parts(values: dict[str, float]) -> str:
    return ", ".join(f"{name} {ms:.1f}" for name, ms in values.items()) or "-"


def format_report(report: BenchReport) -> str:
    """The readable table of ``report``."""
    machine = report.machine
    lines = [
        f"hpe-ros bench: {machine.get('cpu', '?')}, {machine.get('device', 'cpu')}, "
        f"torch threads {machine.get('torch_threads')}, load {machine.get('load_average')}; "
        f"{report.seconds:.0f} s",
        "",
        "Pipelines (median ms per frame; overhead = process() minus its networks; messages = ROS outputs)",
        f"{'pipeline':<10} {'backend':<12} {'people':>6} {'found':>5} {'total':>8} {'network':>8} "
        f"{'overhead':>8} {'messages':>8} {'share':>6} {'frames/s':>8}",
    ]
    for c in report.cases:
        flag = "" if c.within_goal else " *"
        lines.append(
            f"{c.pipeline:<10} {c.backend:<12} {c.people:>6} {c.people_found:>5.0f} {c.total_ms:>8.1f} "
            f"{c.network_ms:>8.1f} {c.overhead_ms:>8.1f} {c.messages_ms:>8.1f} "
            f"{100 * c.overhead_share:>5.1f}% "
            f"{c.frames_per_s:>8.2f}{flag}"
        )
    lines += ["", "Stages (median ms)"]
    for c in report.cases:
        lines.append(f"  {_case_name(c)}: stages: {_parts(c.stages_ms)}")
        lines.append(f"      networks: {_parts(c.networks_ms)}; messages: {_parts(c.message_parts_ms)}")
    ratios = report.backend_ratios()
    if ratios:
        lines += ["", "Backends against torch eager (same run; above 1 = faster than torch)"]
        lines += [
            f"  {r.pipeline} {r.people}p {r.backend}: whole frame x{r.total_speedup:.2f}, "
            f"networks x{r.network_speedup:.2f}"
            for r in ratios
        ]
    if report.bags:
        lines += ["", "Bags (hpe-ros process, models loaded)"]
        lines += [
            f"  {b.pipeline}: {b.input}: {b.processed}/{b.input_frames} frames in {b.seconds:.1f} s = "
            f"{b.frames_per_s:.2f} frames/s, {b.messages_written} messages written"
            for b in report.bags
        ]
    goal = report.overhead_goal()
    verdict = "met" if goal["met"] else f"NOT met in {', '.join(goal['cases_over']) or 'every case'}"
    worst = goal["worst_share"]
    lines += [
        "",
        f"Goal: pipeline overhead + message conversion <= {100 * OVERHEAD_GOAL:.0f} % of network time: "
        f"{verdict}" + (f" (worst {goal['worst_case']}: {100 * worst:.1f} %)" if worst is not None else ""),
    ]
    return "\n".join(lines)
