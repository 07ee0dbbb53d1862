"""A TensorFlow Lite model run by LiteRT (``ai-edge-litert``), with the batch size set per call.

BlazePose's networks ship as ``.tflite`` files; LiteRT runs them with its XNNPACK CPU kernels,
the same kernels MediaPipe's own graph uses. The batch dimension of the file is 1, but the
networks are fully convolutional over the batch, so the input is resized to the batch of each
call (the interpreter is re-planned only when the batch changes).
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
    """One ``.tflite`` network: ``model(batch)`` returns its outputs as float32 arrays, in file order."""

    def __init__(self, path: str | os.PathLike[str], num_threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TFLite model {self.path} does not exist")
        threads = num_threads if num_threads is not None else min(4, os.cpu_count() or 1)
        self._interpreter = _interpreter_class()(model_path=str(self.path), num_threads=threads)
        self._interpreter.allocate_tensors()
        (self._input,) = self._interpreter.get_input_details()
        self._outputs = [detail["index"] for detail in self._interpreter.get_output_details()]
        self.input_shape = tuple(int(v) for v in self._input["shape"][1:])
        self._batch = int(self._input["shape"][0])

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.shape[1:] != self.input_shape:
            raise ValueError(
                f"{self.path.name}: expected (N, {', '.join(map(str, self.input_shape))}) input, "
                f"got {batch.shape}"
            )
        if len(batch) == 0:
            raise ValueError(f"{self.path.name}: empty batch")
        if len(batch) != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], list(batch.shape))
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(index).copy() for index in self._outputs]
