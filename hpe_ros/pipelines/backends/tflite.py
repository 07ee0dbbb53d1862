"""A TensorFlow Lite model run by LiteRT (``ai-edge-litert``), one input at a time.

BlazePose's networks ship as ``.tflite`` files; LiteRT runs them with its XNNPACK CPU kernels,
the same kernels MediaPipe's own graph uses. A call takes a batch, but the interpreter keeps the
file's batch of 1 and runs the items one after the other: on these kernels a batch is not faster
per item (measured here: 10-20 % slower at 4-9 items, its activations no longer fit the cache),
and every new batch size would re-plan the interpreter.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
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

    Each output is the items' outputs concatenated along the first axis, in input order. With
    ``outputs`` (positions in the file's order) only those are returned, in that order: the others
    are not copied out of the interpreter (BlazePose's landmark network has a 256 x 256
    segmentation mask that nothing here reads).
    """

    def __init__(self, path: str | os.PathLike[str], num_threads: int | None = None,
                 outputs: Sequence[int] | None = None) -> None:
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
        details = self._interpreter.get_output_details()
        chosen = range(len(details)) if outputs is None else list(outputs)
        if not chosen or any(not 0 <= position < len(details) for position in chosen):
            raise ValueError(f"{self.path.name} has {len(details)} outputs; asked for {list(chosen)}")
        self._outputs = [(int(details[p]["index"]), tuple(int(v) for v in details[p]["shape"]),
                          np.dtype(details[p]["dtype"])) for p in chosen]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.shape[1:] != self.input_shape:
            raise ValueError(
                f"{self.path.name}: expected (N, {', '.join(map(str, self.input_shape))}) input, "
                f"got {batch.shape}"
            )
        if len(batch) == 0:
            raise ValueError(f"{self.path.name}: empty batch")
        results = [np.empty((len(batch) * shape[0], *shape[1:]), dtype) for _, shape, dtype in self._outputs]
        for item in range(len(batch)):
            self._interpreter.set_tensor(self._input["index"], batch[item : item + 1])
            self._interpreter.invoke()
            for result, (index, shape, _) in zip(results, self._outputs, strict=True):
                # one copy, straight from the interpreter's buffer (no view outlives this line)
                result[item * shape[0] : (item + 1) * shape[0]] = self._interpreter.tensor(index)()
        return results
