"""``hpe-ros export MODEL OUT.onnx``: a network to ONNX (dynamic batch), checked on ONNX Runtime; optionally
a TensorRT engine built from it (``--engine``, GPU machines)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)[xX](\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 192x256, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def add_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export a network to ONNX (dynamic batch) and check it; optionally build a TensorRT engine",
    )
    parser.add_argument("model", nargs="?", help="export target (see --list)")
    parser.add_argument("output", nargs="?", type=Path, help="ONNX file to write")
    parser.add_argument("--list", action="store_true", help="list the export targets and exit")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", help="the network's checkpoint (official or ours)")
    weights.add_argument("--random", action="store_true", help="random weights (benchmarks, tests)")
    parser.add_argument(
        "--input-size", type=_size, metavar="WxH", help="image input size (default: the pipeline's)"
    )
    parser.add_argument("--smpl-model", help="SMPL .pkl/.npz for 'smpl' and 'eventhpe_shapenet'")
    parser.add_argument("--smpl-gender", default="neutral")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime vs torch check")
    parser.add_argument(
        "--engine", type=Path, help="also build a TensorRT engine to this file (needs TensorRT + CUDA)"
    )
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp16", help="TensorRT precision")
    parser.add_argument("--max-batch", type=int, default=16, help="largest batch of the TensorRT profile")


def _list() -> int:
    from hpe_ros.pipelines.export import EXPORT_TARGETS, TFLITE_TARGETS

    for name in EXPORT_TARGETS:
        print(name)
    for name in TFLITE_TARGETS:
        print(f"{name}  (TFLite: conversion attempted with tflite2onnx, known to fail)")
    return 0


def export_command(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not args.model or args.output is None:
        raise ValueError("give MODEL and OUTPUT (hpe-ros export --list shows the models)")
    from hpe_ros.pipelines.export import (
        TFLITE_TARGETS,
        ExportOptions,
        build_export,
        check_export,
        export_model,
        export_tflite,
    )

    if args.model in TFLITE_TARGETS:
        result = export_tflite(args.model, args.output)
        print(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, sha256 {result.sha256}); not checked")
        return 0
    options = ExportOptions(
        checkpoint=args.checkpoint,
        random_weights=args.random,
        input_size=args.input_size,
        smpl_model=args.smpl_model,
        smpl_gender=args.smpl_gender,
    )
    model = build_export(args.model, options)
    result = export_model(model, args.output, opset=args.opset)
    print(
        f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, sha256 {result.sha256}, "
        f"{result.seconds:.1f} s); weights: {model.weights}"
    )
    print(
        f"inputs: {', '.join(model.input_names)}; outputs: {', '.join(model.output_names)}; "
        "batch axis dynamic"
    )
    status = 0
    if not args.no_check:
        check = check_export(model, result.path)
        tolerance = model.tolerance
        print(
            f"check vs torch eager (ONNX Runtime CPU), allowed max|diff| <= {tolerance.atol:g} + "
            f"{tolerance.rtol:g} x max|torch|:"
        )
        for output in check.outputs:
            print(
                f"  batch {output.batch} {output.output}: max|diff| {output.max_abs_error:.3g} "
                f"(allowed {output.allowed:.3g}) {'ok' if output.ok else 'FAILED'}"
            )
        status = 0 if check.ok else 1
    if args.engine is not None:
        from hpe_ros.pipelines.backends.runtime import build_engine

        source = result.path
        if args.precision == "fp16":  # TensorRT 11 builds FP16 only from an FP16 graph
            source = export_model(
                model, args.engine.with_suffix(".fp16.onnx"), opset=args.opset, half=True
            ).path
        args.engine.parent.mkdir(parents=True, exist_ok=True)
        args.engine.write_bytes(build_engine(source, args.precision, args.max_batch))
        print(f"wrote TensorRT engine {args.engine} ({args.precision}, batch 1-{args.max_batch})")
    return status
