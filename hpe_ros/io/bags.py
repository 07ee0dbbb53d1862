"""rosbag2 reading and writing without ROS (rosbags), with hpe_ros's own types registered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from hpe_ros.io.interfaces import TYPE_ALIASES
from hpe_ros.io.typestore import hpe_typestore

STORAGE_FORMATS = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}


class BagError(RuntimeError):
    """A bag cannot be opened, read or written as asked."""


@dataclass(frozen=True)
class BagMessage:
    """One deserialised message of a bag."""

    topic: str
    msgtype: str
    timestamp_ns: int  # the bag's receive time stamp
    message: Any


class BagReader:
    """Iterates over a rosbag2 folder (sqlite3 or mcap); use as a context manager."""

    def __init__(self, path: str | Path, typestore: Typestore | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag not found: {self.path}")
        self.typestore = typestore or hpe_typestore()
        self._reader = Reader(self.path)

    def __enter__(self) -> "BagReader":
        try:
            self._reader.open()
        except Exception as error:  # rosbags raises its own errors and sqlite/mcap errors
            raise BagError(f"cannot open bag {self.path}: {error}") from error
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._reader.close()

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type."""
        return {c.topic: c.msgtype for c in self._reader.connections}

    @property
    def message_count(self) -> int:
        return self._reader.message_count

    def count(self, topics: Iterable[str]) -> int:
        wanted = set(topics)
        return sum(c.msgcount for c in self._reader.connections if c.topic in wanted)

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
        """Messages of ``topics`` (all when None) in time order, deserialised."""
        wanted = None if topics is None else set(topics)
        connections = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        for connection, timestamp, raw in self._reader.messages(connections=connections):
            msgtype = connection.msgtype
            if msgtype not in self.typestore.types:
                raise BagError(f"topic {connection.topic} has type {msgtype}, unknown to hpe_ros")
            message = self.typestore.deserialize_cdr(raw, msgtype)
            yield BagMessage(connection.topic, TYPE_ALIASES.get(msgtype, msgtype), timestamp, message)


class BagWriter:
    """Writes messages to a new rosbag2 folder; use as a context manager."""

    def __init__(self, path: str | Path, storage: str = "sqlite3", typestore: Typestore | None = None) -> None:
        if storage not in STORAGE_FORMATS:
            raise BagError(f"unknown bag storage {storage!r}; choose one of {sorted(STORAGE_FORMATS)}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"output bag already exists: {self.path} (remove it or choose another path)")
        self.typestore = typestore or hpe_typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=STORAGE_FORMATS[storage])
        self._connections: dict[str, Any] = {}

    def __enter__(self) -> "BagWriter":
        self._writer.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._writer.close()

    def write(self, topic: str, message: Any, timestamp_ns: int) -> None:
        """Serialise ``message`` (a rosbags class from this writer's type store) onto ``topic``."""
        msgtype = message.__msgtype__
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(topic, msgtype, typestore=self.typestore)
            self._connections[topic] = connection
        elif connection.msgtype != msgtype:
            raise BagError(f"topic {topic} was opened with {connection.msgtype}, cannot write {msgtype}")
        self._writer.write(connection, int(timestamp_ns), self.typestore.serialize_cdr(message, msgtype))
