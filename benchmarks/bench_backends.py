"""ONNX Runtime (CPU) against torch eager at batch 1 for every exported network, side by side in one run.

    python benchmarks/bench_backends.py [--all | --targets NAME ...] [--threads 1] [--repeats 7] [--json F]

Each network is the module :mod:`hpe_ros.pipelines.export` exports (what the pipelines run, with
BatchNorm folded where the pipeline folds it) at the pipeline's input size, random weights. torch
runs it eagerly under ``inference_mode`` (contiguous NCHW); ONNX Runtime runs its export with
the settings of :class:`~hpe_ros.pipelines.backends.runtime.OnnxRuntimeBackend`. The two calls alternate,
so that load from other processes hits both alike; medians are printed with the median of the
per-iteration ratios (torch / ONNX Runtime: above 1 means ONNX Runtime is faster). Where the export
is a rewritten graph of the same function (SMPL: ``ExportModel.graph``), torch runs the pipeline's
module and, in the same alternation, the rewritten graph too (column "torch graph ms"; its ratio
is the runtime's alone).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the nodes run; must precede torch's import
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hpe_ros.pipelines.backends.runtime import OnnxRuntimeBackend  # noqa: E402
from hpe_ros.pipelines.export import ExportOptions, build_export, export_model  # noqa: E402

# The pipelines' networks at their input sizes. ALL_TARGETS is the table of docs/performance.md
# (about 5 minutes on one core); the default, one network of each family, about 2.
ALL_TARGETS = (
    "hrnet_w32_heatmap", "hrnet_w32_simdr", "hrnet_w32_sa_simdr", "hrnet_w48_heatmap", "swahr_w32",
    "capf_hrnet32", "capf_hrnet48", "capf_cpn", "capf_mpi_w48", "capf_mpi_w32", "capf_baseline",
    "default_lifter", "hemlets_resnet50", "hemlets_posh", "eventhpe_flownet", "eventhpe_shapenet", "smpl",
)  # fmt: skip
DEFAULT_TARGETS = (
    "hrnet_w32_heatmap", "capf_hrnet32", "capf_mpi_w48", "capf_baseline", "default_lifter", "hemlets_posh",
    "eventhpe_flownet", "eventhpe_shapenet", "smpl",
)  # fmt: skip


def bench(name: str, repeats: int, threads: int, folder: Path) -> dict[str, object]:
    model = build_export(name, ExportOptions(random_weights=True))
    exported = export_model(model, folder / f"{name}.onnx")
    session = OnnxRuntimeBackend(exported.path, providers=["CPUExecutionProvider"], threads=threads)
    inputs = model.inputs(1)

    def eager(module: torch.nn.Module) -> Callable[[], None]:
        def call() -> None:
            with torch.inference_mode():
                module(*inputs)

        return call

    calls = {"torch": eager(model.module), "onnxruntime": lambda: session(*inputs)}
    if model.graph is not None:
        calls["torch_graph"] = eager(model.graph)
    for _ in range(2):  # warm-up: first calls allocate and plan
        for call in calls.values():
            call()
    seconds: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(repeats):
        for key, call in calls.items():
            started = time.perf_counter()
            call()
            seconds[key].append(time.perf_counter() - started)
    exported.path.unlink()
    ort_s = seconds["onnxruntime"]
    row: dict[str, object] = {"network": name, "onnx_mb": exported.size_bytes / 1e6}
    for key, values in seconds.items():
        row[f"{key}_ms"] = statistics.median(values) * 1e3
        if key != "onnxruntime":
            prefix = "ratio" if key == "torch" else "ratio_graph"
            row[prefix] = statistics.median(t / o for t, o in zip(values, ort_s, strict=False))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", nargs="+", default=list(DEFAULT_TARGETS))
    parser.add_argument("--all", action="store_true", help="every network of docs/performance.md's table")
    parser.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime intra-op threads")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    if args.all:
        args.targets = list(ALL_TARGETS)
    torch.set_num_threads(args.threads)
    rows = []
    print(f"batch 1, {args.threads} thread(s), medians of {args.repeats} alternating calls")
    print(f"{'network':<22} {'torch ms':>10} {'ORT ms':>10} {'torch/ORT':>10}   (torch graph ms, ratio)")
    with tempfile.TemporaryDirectory(prefix="hpe_ros_bench_") as folder:
        for name in args.targets:
            row = bench(name, args.repeats, args.threads, Path(folder))
            rows.append(row)
            graph = ""
            if "ratio_graph" in row:
                graph = f"   ({row['torch_graph_ms']:.2f}, {row['ratio_graph']:.2f})"
            print(
                f"{name:<22} {row['torch_ms']:>10.2f} {row['onnxruntime_ms']:>10.2f} {row['ratio']:>10.2f}"
                + graph,
                flush=True,
            )
    if args.json:
        args.json.write_text(
            json.dumps({"threads": args.threads, "repeats": args.repeats, "rows": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
