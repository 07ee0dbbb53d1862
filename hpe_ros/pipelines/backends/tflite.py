"""A TensorFlow Lite model run by LiteRT (``ai-edge-litert``), one input at a time.

BlazePose's networks ship as ``.tflite`` files; LiteRT runs them with its XNNPACK CPU kernels,
the same kernels MediaPipe's own graph uses. A call takes a batch, but the interpreter keeps the
file's batch of 1 and runs the items one after the other: on these kernels a batch is not faster
per item (measured here: 10-20 % slower at 4-9 items, its activations no longer fit the cache),
and every new batch size would re-plan the interpreter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

INSTALL_HINT = "TFLite models need LiteRT: pip install ai-edge-litert==2.3.0"


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 (optional dependency)
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from error
    return Interpreter


class TfliteModel:
    """One ``.tflite`` network: ``model(batch)`` returns its outputs as float32 arrays, in file order.

    Each output is the items' outputs concatenated along the first axis, in input order.
    """

    def __init__(self, path: str | os.PathLike[str], num_threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TFLite model {self.path} does not exist")
        threads = num_threads if num_threads is not None else min(4, os.cpu_count() or 1)
        self._interpreter = _interpreter_class()(model_path=str(self.path), num_threads=threads)
        (self._input,) = self._interpreter.get_input_details()
        self.input_shape = tuple(int(v) for v in self._input["shape"][1:])
        if int(self._input["shape"][0]) != 1:
            self._interpreter.resize_tensor_input(self._input["index"], [1, *self.input_shape])
        self._interpreter.allocate_tensors()
        self._outputs = [detail["index"] for detail in self._interpreter.get_output_details()]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.shape[1:] != self.input_shape:
            raise ValueError(
                f"{self.path.name}: expected (N, {', '.join(map(str, self.input_shape))}) input, "
                f"got {batch.shape}"
            )
        if len(batch) == 0:
            raise ValueError(f"{self.path.name}: empty batch")
        outputs: list[list[np.ndarray]] = [[] for _ in self._outputs]
        for item in range(len(batch)):
            self._interpreter.set_tensor(self._input["index"], batch[item : item + 1])
            self._interpreter.invoke()
            for collected, index in zip(outputs, self._outputs, strict=True):
                collected.append(self._interpreter.get_tensor(index))  # a copy
        return [np.concatenate(collected) for collected in outputs]
