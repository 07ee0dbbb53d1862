"""rosbag2 reading and writing without ROS (rosbags), with hpe_ros's own types registered.

A :class:`BagWriter` writes each message, and closes the bag, with SIGINT and SIGTERM held
back until it is done (when their handlers were installed from Python): an interruption then
lands between two messages, so the bag closed on the way out holds every message written
before it, whole, in both storages.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
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


_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def signals_held() -> Generator[None, None, None]:
    """Delivers SIGINT/SIGTERM received inside the block when it ends (main thread, Python handlers only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for number in _HELD_SIGNALS:
        handler = signal.getsignal(number)
        if handler is None:  # installed outside Python (e.g. by rclpy): cannot be restored, leave it
            continue
        previous[number] = handler
        signal.signal(number, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for signum in received:
            signal.raise_signal(signum)


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
            raise BagError(f"bag not found: {self.path} (give the path of a rosbag2 folder)")
        self.typestore = typestore or hpe_typestore()
        if self.path.is_dir() and not (self.path / "metadata.yaml").is_file():
            raise BagError(
                f"not a rosbag2 folder (no metadata.yaml): {self.path} "
                "(give the folder that ros2 bag or hpe-ros wrote)"
            )
        try:
            self._reader = Reader(self.path)
        except Exception as error:  # rosbags' ReaderError, or OSError for an unreadable file
            raise BagError(f"cannot open bag {self.path}: {error}") from error

    def __enter__(self) -> BagReader:
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

    def raw_messages(
        self, topics: Iterable[str] | None = None
    ) -> Iterator[tuple[str, int, memoryview | bytes]]:
        """(topic, time stamp, CDR bytes) of ``topics`` (all when None) in time order, not deserialised."""
        wanted = None if topics is None else set(topics)
        connections = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        for connection, timestamp, raw in self._reader.messages(connections=connections):
            yield connection.topic, timestamp, raw

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

    def __init__(
        self, path: str | Path, storage: str = "sqlite3", typestore: Typestore | None = None
    ) -> None:
        if storage not in STORAGE_FORMATS:
            raise BagError(f"unknown bag storage {storage!r}; choose one of {sorted(STORAGE_FORMATS)}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"output bag already exists: {self.path} (remove it or choose another path)")
        self.typestore = typestore or hpe_typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=STORAGE_FORMATS[storage])
        self._connections: dict[str, Any] = {}
        self._open = False

    def __enter__(self) -> BagWriter:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._writer.open()
        except Exception as error:  # rosbags' WriterError, or OSError for a folder that cannot be made
            raise BagError(f"cannot create bag {self.path}: {error}") from error
        self._open = True

    def close(self) -> None:
        """Write the bag's index and metadata; a second call does nothing."""
        if self._open:
            with signals_held():
                self._open = False
                self._writer.close()

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare ``topic`` (so it is in the bag even without messages)."""
        connection = self._connections.get(topic)
        if connection is None:
            with signals_held():
                self._connections[topic] = self._writer.add_connection(
                    topic, msgtype, typestore=self.typestore
                )
        elif connection.msgtype != msgtype:
            raise BagError(f"topic {topic} was opened with {connection.msgtype}, cannot write {msgtype}")

    def write(self, topic: str, message: Any, timestamp_ns: int) -> None:
        """Serialise ``message`` (a rosbags class from this writer's type store) onto ``topic``."""
        msgtype = message.__msgtype__
        self.add_topic(topic, msgtype)
        self.write_serialized(topic, self.typestore.serialize_cdr(message, msgtype), timestamp_ns)

    def write_serialized(self, topic: str, data: bytes | memoryview, timestamp_ns: int) -> None:
        """Write CDR ``data`` onto ``topic``, declared before with :meth:`add_topic`."""
        connection = self._connections.get(topic)
        if connection is None:
            raise BagError(f"topic {topic} was not declared (add_topic) before writing")
        with signals_held():
            self._writer.write(connection, int(timestamp_ns), data)
