"""Time the SMPL forward pass (6890-vertex synthetic model) at batch 1 and 32, against a per-sample loop.

Run: ``python benchmarks/bench_smpl.py [--device cpu|cuda] [--threads 1] [--repeats 20]``.
The loop calls the same model once per sample, the way a naive pipeline would; the ratio is
measured in the same run, so it holds on any machine even where absolute times do not.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from hpe_ros.models.smpl import SMPLModel
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl


def median_seconds(run: Callable[[], object], repeats: int, device: torch.device) -> float:
    def synchronise() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(3):  # warm-up
        run()
    synchronise()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        synchronise()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_sample_loop(model: SMPLModel, pose: torch.Tensor, betas: torch.Tensor, shift: torch.Tensor) -> None:
    """The naive way: one forward per body."""
    for i in range(pose.shape[0]):
        model(pose[i : i + 1], betas[i : i + 1], shift[i : i + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--vertices", type=int, default=6890)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    model = SMPLModel(make_synthetic_smpl(num_vertices=args.vertices)).to(device).eval()
    generator = torch.Generator().manual_seed(0)
    print(
        f"SMPL forward, {args.vertices} vertices, float32, {device}, {torch.get_num_threads()} CPU thread(s)"
    )
    print(f"{'batch':>5} {'batched ms':>11} {'per body ms':>12} {'loop ms':>9} {'loop / batched':>15}")
    with torch.inference_mode():
        for batch in (1, 32):
            pose = (torch.randn(batch, 24, 3, generator=generator) * 0.4).to(device)
            betas = torch.randn(batch, 10, generator=generator).to(device)
            shift = torch.randn(batch, 3, generator=generator).to(device)
            batched = median_seconds(partial(model, pose, betas, shift), args.repeats, device)
            looped = median_seconds(partial(per_sample_loop, model, pose, betas, shift), args.repeats, device)
            print(
                f"{batch:>5} {batched * 1e3:>11.3f} {batched * 1e3 / batch:>12.3f} {looped * 1e3:>9.3f} "
                f"{looped / batched:>15.2f}"
            )


if __name__ == "__main__":
    main()
