"""Many bags through one pipeline configuration: serially here, or as Ray tasks on a cluster.

Each bag is one :class:`BagJob` (paths, pipeline name and options, the ``process_bag`` settings):
plain data, so a Ray worker on any machine builds its own pipeline from it and runs
:func:`~hpe_ros.io.bag_processing.process_bag` exactly as the serial path does; the outputs are
the same bytes. A bag that fails (unreadable, no image topic, a worker that died) becomes a
:class:`BagOutcome` with its error; the other bags' results are kept. Ray is optional: it is
imported only when ``ray_address`` is given. On a cluster the bag paths must be readable and the
output folders writable by every node (shared storage).
"""

from __future__ import annotations

import socket
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpe_ros.io.bag_processing import ProcessReport, process_bag

LOCAL = "local"  # ray_address that starts a Ray instance on this machine


@dataclass(frozen=True)
class BagJob:
    """One bag to process: what ``hpe-ros process IN OUT`` would be given."""

    in_bag: Path
    out_bag: Path
    pipeline: str
    options: dict[str, Any] = field(default_factory=dict)
    tracking_options: dict[str, Any] = field(default_factory=dict)
    process_options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of process_bag


@dataclass
class BagOutcome:
    """What happened to one job: its report, or the error that stopped it."""

    job: BagJob
    report: ProcessReport | None = None
    error: str | None = None
    host: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def run_job(job: BagJob) -> BagOutcome:
    """Build the job's pipeline and process its bag in this process; errors are returned, not raised."""
    from hpe_ros.pipelines.registry import create_pipeline
    from hpe_ros.pipelines.tracking.stage import tracking_from_options

    host = socket.gethostname()
    try:
        tracking = tracking_from_options(job.tracking_options)
        pipeline = create_pipeline(job.pipeline, job.options)
        try:
            report = process_bag(job.in_bag, job.out_bag, pipeline, tracking=tracking,
                                 **{"progress": False, **job.process_options})
        finally:
            pipeline.close()
    except Exception as error:  # one bag's failure must not hide the others' results
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        return BagOutcome(job, error=detail, host=host)
    return BagOutcome(job, report=report, host=host)


def _ray_outcomes(jobs: Sequence[BagJob], address: str, num_cpus: int | None, cpus_per_bag: float,
                  on_done: Callable[[BagOutcome], None] | None) -> list[BagOutcome]:
    try:
        import ray
    except ImportError as error:
        raise ImportError("processing bags on Ray needs the ray package (pip install ray)") from error

    started_here = not ray.is_initialized()
    if started_here:
        if address == LOCAL:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        # workers are reused between bags (imports once per worker); a bag is not retried on failure
        remote = ray.remote(num_cpus=cpus_per_bag, max_retries=0)(run_job)
        pending = {remote.remote(job): index for index, job in enumerate(jobs)}
        outcomes: list[BagOutcome | None] = [None] * len(jobs)
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready)
            try:
                outcome = ray.get(ready)
            except Exception as error:  # the task itself failed: a worker crash, an unpicklable result
                outcome = BagOutcome(jobs[index], error=f"{type(error).__name__}: {error}".splitlines()[0])
            outcomes[index] = outcome
            if on_done is not None:
                on_done(outcome)
        return [o for o in outcomes if o is not None]
    finally:
        if started_here:
            ray.shutdown()


def process_bags(
    jobs: Sequence[BagJob],
    *,
    ray_address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_bag: float = 1.0,
    on_done: Callable[[BagOutcome], None] | None = None,
) -> list[BagOutcome]:
    """Every job's outcome, in the order of ``jobs``.

    ``ray_address`` None: one after the other in this process. ``"local"``: a Ray instance started on
    this machine with ``num_cpus`` (default: all), ``cpus_per_bag`` reserved per running bag.
    Anything else (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``) connects to that cluster.
    ``on_done`` is called with each outcome as it finishes (in finishing order)."""
    outputs = [job.out_bag.resolve() for job in jobs]
    if len(set(outputs)) != len(outputs):
        raise ValueError("two jobs write the same output bag")
    if ray_address is None:
        outcomes = []
        for job in jobs:
            outcomes.append(run_job(job))
            if on_done is not None:
                on_done(outcomes[-1])
        return outcomes
    return _ray_outcomes(jobs, ray_address, num_cpus, cpus_per_bag, on_done)
