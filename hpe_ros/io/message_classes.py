"""One way to build messages for both rclpy's generated classes and rosbags' dataclasses.

Conversions in ``hpe_ros.io`` take a :class:`MessageClasses` and never import a message
package themselves, so the same code fills a live rclpy publisher and an offline bag. The two
families differ in how they hold primitive arrays: rclpy wants ``array.array`` (or Python
numbers), rosbags wants numpy arrays; ``sequence`` hides that.
"""

from __future__ import annotations

import abc
import array
import importlib
from typing import Any

import numpy as np

_ARRAY_TYPECODES = {np.dtype("float32"): "f", np.dtype("float64"): "d", np.dtype("uint8"): "B",
                    np.dtype("uint32"): "I", np.dtype("int32"): "i"}


class MessageClasses(abc.ABC):
    """Looks up message classes by ``pkg/msg/Name`` and converts numpy arrays for their fields."""

    @abc.abstractmethod
    def get(self, type_name: str) -> type:
        """The class of ``type_name`` (e.g. ``"sensor_msgs/msg/Image"``)."""

    @abc.abstractmethod
    def sequence(self, values: np.ndarray, dtype: str) -> Any:
        """A value for an unbounded primitive array field (``float32[]``, ``uint8[]``...)."""

    @abc.abstractmethod
    def fixed(self, values: np.ndarray, dtype: str) -> Any:
        """A value for a fixed-size primitive array field (``float32[10]``)."""

    def new(self, type_name: str, **fields: Any) -> Any:
        """Construct a message; fields left out take the type's defaults."""
        return self.get(type_name)(**fields)


class RclpyMessageClasses(MessageClasses):
    """rclpy's generated classes (``sensor_msgs.msg.Image``...)."""

    def __init__(self) -> None:
        self._cache: dict[str, type] = {}

    def get(self, type_name: str) -> type:
        cls = self._cache.get(type_name)
        if cls is None:
            package, kind, name = type_name.split("/")
            cls = getattr(importlib.import_module(f"{package}.{kind}"), name)
            self._cache[type_name] = cls
        return cls

    def sequence(self, values: np.ndarray, dtype: str) -> Any:
        data = np.ascontiguousarray(values, dtype=dtype).ravel()
        out = array.array(_ARRAY_TYPECODES[data.dtype])
        out.frombytes(data.tobytes())
        return out

    def fixed(self, values: np.ndarray, dtype: str) -> Any:
        return np.ascontiguousarray(values, dtype=dtype).ravel()


class RosbagsMessageClasses(MessageClasses):
    """rosbags' dataclasses from a type store (see :func:`hpe_ros.io.typestore.hpe_typestore`)."""

    def __init__(self, typestore: Any | None = None) -> None:
        if typestore is None:
            from hpe_ros.io.typestore import hpe_typestore

            typestore = hpe_typestore()
        self.typestore = typestore

    def get(self, type_name: str) -> type:
        try:
            return self.typestore.types[type_name]
        except KeyError:
            raise KeyError(f"message type {type_name} is not registered in the type store") from None

    def sequence(self, values: np.ndarray, dtype: str) -> Any:
        return np.ascontiguousarray(values, dtype=dtype).ravel()

    def fixed(self, values: np.ndarray, dtype: str) -> Any:
        return np.ascontiguousarray(values, dtype=dtype).ravel()

    def new(self, type_name: str, **fields: Any) -> Any:
        # rosbags' dataclasses have no defaults: fill the missing fields with zero values
        for name, (kind, detail) in self.typestore.fielddefs[type_name][1]:
            if name not in fields:
                fields[name] = self._zero_for(kind, detail)
        return self.get(type_name)(**fields)

    def _zero_for(self, kind: int, detail: Any) -> Any:
        from rosbags.interfaces import Nodetype

        if kind == Nodetype.BASE:
            base = detail[0]
            if base == "string":
                return ""
            if base == "bool":
                return False
            return 0.0 if base.startswith("float") else 0
        if kind == Nodetype.NAME:
            return self.new(detail)
        (sub_kind, sub_detail), length = detail
        if sub_kind == Nodetype.BASE and sub_detail[0] != "string":
            return np.zeros(length if kind == Nodetype.ARRAY else 0, dtype=_numpy_dtype(sub_detail[0]))
        if kind == Nodetype.ARRAY:
            return [self._zero_for(sub_kind, sub_detail) for _ in range(length)]
        return []


def _numpy_dtype(base: str) -> np.dtype:
    return np.dtype({"bool": "bool", "byte": "uint8", "char": "uint8", "octet": "uint8"}.get(base, base))
