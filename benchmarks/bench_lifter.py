"""Time the CA-PF lifter per person: reference vs fast path, torch eager vs ONNX Runtime, FLOP bound.

    python benchmarks/bench_lifter.py [--model capf_hrnet32] [--threads 2] [--rounds 5]
        [--official-file PATH/TO/ContextAware-PoseFormer/.../h36m_dformer.py]

Each configuration is timed in interleaved rounds (the CPU may be shared) and the median of the
round medians is printed in milliseconds per person. The FLOP bound is the model's matmul and
convolution FLOPs (torch's flop counter) divided by the GFLOP/s a large matmul reaches here.

``--official-file`` times the official ``PoseTransformer`` (hrnet_32 configuration, random
weights) side by side; its imports (einops, timm) must be importable.

OpenMP's wait policy changes the cost of torch's small ops a lot. This script leaves it as the
environment sets it: unset, libgomp spins a while between ops, which suits the official module
and the eager paths. The nodes and ``hpe-ros`` set ``OMP_WAIT_POLICY=PASSIVE`` (the CPU is shared
with the other stages); ONNX Runtime does not use OpenMP, so its numbers hold in either setting,
except with ``OMP_WAIT_POLICY=ACTIVE``, where torch's idle threads spin forever and take a core
from it.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from timing import median_time
from torch.utils.flop_counter import FlopCounterMode

from hpe_ros.models import create_model
from hpe_ros.models.capf import ContextAwarePoseFormer, crop_pixels_to_grid
from hpe_ros.models.packed_linear import pack_linears
from hpe_ros.pipelines.backends.runtime import OnnxRuntimeBackend
from hpe_ros.pipelines.rgb.topdown import CapfWithFlatInputs

LEVEL_SIZES = [(64, 48), (32, 24), (16, 12), (8, 6)]  # HRNet maps of a 256x192 crop


def make_inputs(
    model: ContextAwarePoseFormer, batch: int
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(batch)
    keypoints_2d = (torch.rand(batch, 17, 2, generator=generator) - 0.5) * 1.5
    crop = torch.rand(batch, 17, 2, generator=generator) * torch.tensor([192.0, 256.0])
    sizes = LEVEL_SIZES if len(set(model.config.level_channels)) > 1 else [LEVEL_SIZES[0]] * 4
    # a model with fewer levels takes the first sizes
    levels = zip(model.config.level_channels, sizes, strict=False)
    features = [torch.randn(batch, c, h, w, generator=generator) for c, (h, w) in levels]
    return keypoints_2d, features, crop


def matmul_gflops(repeats: int = 5) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    return 2 * 1024**3 / median_time(lambda: a @ b, repeats) / 1e9


def official_model(path: Path, model: ContextAwarePoseFormer) -> Callable[[tuple], object]:
    """The official PoseTransformer from a user's clone, called with our inputs."""
    spec = importlib.util.spec_from_file_location("official_capf", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    config = model.config
    args = SimpleNamespace(base_dim=config.level_channels[0], embed_dim_ratio=config.token_dim,
                           levels=config.levels, depth=config.depth)
    backbone = {32: "hrnet_32", 48: "hrnet_48"}[config.level_channels[0]]
    official = module.PoseTransformer(args, backbone=backbone).eval()

    def run(batch_inputs: tuple) -> object:
        keypoints_2d, features, crop = batch_inputs
        return official(keypoints_2d, crop_pixels_to_grid(crop, config.crop_size), features)

    return run


def flat(batch_inputs: tuple) -> list[torch.Tensor]:
    """(keypoints_2d, features, crop) in the flat order of :class:`CapfWithFlatInputs`."""
    keypoints_2d, features, crop = batch_inputs
    return [keypoints_2d, crop, *features]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="capf_hrnet32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument(
        "--official-file", type=Path, help="the official h36m_dformer.py, to time side by side"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = create_model(args.model).eval().requires_grad_(False)
    packed = copy.deepcopy(model)
    pack_linears(packed)
    official = official_model(args.official_file, model) if args.official_file else None
    # The product's ONNX Runtime backend (batch axis dynamic, worker threads do not spin).
    onnx_backend = OnnxRuntimeBackend.from_module(CapfWithFlatInputs(model), flat(make_inputs(model, 1)),
                                                  threads=args.threads)
    peak = matmul_gflops()
    print(f"{args.model}: {args.threads} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"large-matmul {peak:.1f} GFLOP/s")

    for batch in args.batches:
        inputs = make_inputs(model, batch)
        model.use_fast_path = False
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(*inputs)
        flops = counter.get_total_flops()
        repeats = 20 if batch == 1 else 3
        flat_inputs = flat(inputs)

        def eager(
            network: ContextAwarePoseFormer, fast: bool, inputs: tuple = inputs
        ) -> Callable[[], object]:
            def run() -> object:
                network.use_fast_path = fast
                with torch.inference_mode():
                    return network(*inputs)

            return run

        runs = {"eager reference": eager(model, False), "eager fast": eager(model, True),
                "eager fast packed": eager(packed, True),
                "onnxruntime fast": lambda flat_inputs=flat_inputs: onnx_backend(*flat_inputs)}
        if official is not None:
            runs["official"] = lambda inputs=inputs: torch.inference_mode()(official)(inputs)
        with torch.inference_mode():
            reference = model(*inputs).numpy()
        deviation = float(np.abs(onnx_backend(*flat_inputs)[0].numpy() - reference).max())
        for fn in runs.values():
            fn()
        rounds: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                rounds[name].append(median_time(fn, repeats))
        per_person = {name: statistics.median(values) / batch * 1e3 for name, values in rounds.items()}
        bound = flops / (peak * 1e9) / batch * 1e3
        print(f"batch {batch}: {flops / batch / 1e9:.3f} GFLOP/person, FLOP bound {bound:.3f} ms/person, "
              f"onnx max|diff| {deviation:.2e}")
        against = "official" if official is not None else "eager reference"
        for name, value in per_person.items():
            print(f"  {name:18s} {value:8.3f} ms/person  {value / bound:5.2f}x bound  "
                  f"{value / per_person[against]:5.2f}x {against}")


if __name__ == "__main__":
    main()
