"""Time the CA-PF lifter per person: gather vs reference path, torch eager vs ONNX Runtime, FLOP bound.

    python benchmarks/bench_lifter.py [--model capf_hrnet32] [--threads 2] [--rounds 5]

Each configuration is timed in interleaved rounds (the CPU may be shared) and the median of the
round medians is printed in milliseconds per person. The FLOP bound is the model's matmul and
convolution FLOPs (torch's flop counter) divided by the GFLOP/s a large matmul reaches here.
"""

from __future__ import annotations

import os

# On a shared CPU, OpenMP threads that spin while waiting steal time from the thread doing the
# work; yielding instead makes small ops several times faster. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from hpe_ros.models import create_model
from hpe_ros.models.capf import ContextAwarePoseFormer

LEVEL_SIZES = [(64, 48), (32, 24), (16, 12), (8, 6)]  # HRNet maps of a 256x192 crop


def make_inputs(model: ContextAwarePoseFormer, batch: int) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(batch)
    keypoints_2d = (torch.rand(batch, 17, 2, generator=generator) - 0.5) * 1.5
    crop = torch.rand(batch, 17, 2, generator=generator) * torch.tensor([192.0, 256.0])
    sizes = LEVEL_SIZES if len(set(model.config.level_channels)) > 1 else [LEVEL_SIZES[0]] * 4
    features = [torch.randn(batch, c, h, w, generator=generator) for c, (h, w) in zip(model.config.level_channels, sizes)]
    return keypoints_2d, features, crop


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(repeats: int = 5) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    return 2 * 1024**3 / median_time(lambda: a @ b, repeats) / 1e9


def onnx_session(model: torch.nn.Module, inputs: tuple, threads: int):  # noqa: ANN201 (onnxruntime type)
    import onnxruntime

    names = ["keypoints_2d", *(f"features_{i}" for i in range(len(inputs[1]))), "keypoints_crop"]
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        inputs,
        buffer,
        opset_version=17,
        dynamo=False,
        input_names=names,
        output_names=["joints"],
        dynamic_axes={name: {0: "batch"} for name in [*names, "joints"]},
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared CPU: yield, do not spin
    session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def feed(batch_inputs: tuple) -> dict[str, np.ndarray]:
        keypoints_2d, features, crop = batch_inputs
        arrays = [keypoints_2d, *features, crop]
        return {name: array.numpy() for name, array in zip(names, arrays)}

    return session, feed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="capf_hrnet32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = create_model(args.model).eval()
    session, feed = onnx_session(model, make_inputs(model, 1), args.threads)
    peak = matmul_gflops()
    print(f"{args.model}: {args.threads} threads, large-matmul {peak:.1f} GFLOP/s")

    for batch in args.batches:
        inputs = make_inputs(model, batch)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(*inputs)
        flops = counter.get_total_flops()
        repeats = 20 if batch == 1 else 3
        onnx_feed = feed(inputs)

        def eager(fast: bool) -> Callable[[], object]:
            def run() -> object:
                model.use_fast_path = fast
                with torch.inference_mode():
                    return model(*inputs)

            return run

        runs = {"eager gather path": eager(True), "eager reference": eager(False), "onnxruntime": lambda: session.run(None, onnx_feed)}
        with torch.inference_mode():
            reference = model(*inputs).numpy()
        deviation = float(np.abs(session.run(None, onnx_feed)[0] - reference).max())
        for fn in runs.values():
            fn()
        rounds: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                rounds[name].append(median_time(fn, repeats))
        per_person = {name: statistics.median(values) / batch * 1e3 for name, values in rounds.items()}
        bound = flops / (peak * 1e9) / batch * 1e3
        model.use_fast_path = False
        print(f"batch {batch}: {flops / batch / 1e9:.3f} GFLOP/person, FLOP bound {bound:.3f} ms/person")
        for name, value in per_person.items():
            print(f"  {name:16s} {value:8.3f} ms/person  ({value / bound:.2f}x bound)")
        print(f"  gather/reference {per_person['eager gather path'] / per_person['eager reference']:.2f}, "
              f"onnxruntime/eager-reference {per_person['onnxruntime'] / per_person['eager reference']:.2f}, "
              f"onnx max|diff| {deviation:.2e}")


if __name__ == "__main__":
    main()
