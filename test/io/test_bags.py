"""BagReader / BagWriter: refusals, raw topics, and bags that stay whole when a signal arrives mid-write."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpe_ros.io.bags import BagError, BagReader, BagWriter, signals_held
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import make_header, stamp_to_ns

STORAGES = ("sqlite3", "mcap")


class Stop(Exception):  # noqa: N818 (a signal-driven stop, not an error)
    pass


@pytest.fixture
def raising_handlers():
    """SIGINT and SIGTERM raise Stop, like the CLI's handlers; the previous handlers come back after."""
    previous = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        raise Stop(signum)

    for number in previous:
        signal.signal(number, handler)
    yield
    for number, old in previous.items():
        signal.signal(number, old)


def _header(classes: RosbagsMessageClasses, stamp_ns: int):
    return make_header(classes, stamp_ns, "camera")


def test_signals_inside_the_block_arrive_when_it_ends(raising_handlers) -> None:
    steps = []
    with pytest.raises(Stop) as stopped:
        with signals_held():
            signal.raise_signal(signal.SIGTERM)
            steps.append("after the signal")
        steps.append("after the block")
    assert steps == ["after the signal"] and stopped.value.args == (signal.SIGTERM,)
    with pytest.raises(Stop):  # the handlers are back
        signal.raise_signal(signal.SIGINT)


@pytest.mark.parametrize("storage", STORAGES)
def test_a_signal_during_a_write_lands_after_the_message(
    raising_handlers, tmp_path: Path, storage: str
) -> None:
    classes = RosbagsMessageClasses()
    path = tmp_path / "bag"
    with pytest.raises(Stop):
        with BagWriter(path, storage=storage, typestore=classes.typestore) as writer:
            for stamp in range(1, 4):
                writer.write("/h", _header(classes, stamp), stamp)
            store = writer._writer.write  # the signal arrives while rosbags is writing message 4

            def write_interrupted(*args):
                signal.raise_signal(signal.SIGINT)
                store(*args)

            writer._writer.write = write_interrupted
            writer.write("/h", _header(classes, 4), 4)
            writer.write("/h", _header(classes, 5), 5)
    with BagReader(path) as reader:
        assert [stamp_to_ns(m.message.stamp) for m in reader.messages()] == [1, 2, 3, 4]
        assert reader.message_count == 4


@pytest.mark.fuzz
@given(storage=st.sampled_from(STORAGES), total=st.integers(0, 30), data=st.data())
def test_an_exception_anywhere_leaves_a_readable_prefix(
    tmp_path_factory, storage: str, total: int, data
) -> None:
    stop_at = data.draw(st.integers(0, total))
    topics = data.draw(st.lists(st.sampled_from(["/a", "/b", "/c"]), min_size=total, max_size=total))
    classes = RosbagsMessageClasses()
    path = tmp_path_factory.mktemp("fuzz") / "bag"
    with pytest.raises(Stop):
        with BagWriter(path, storage=storage, typestore=classes.typestore) as writer:
            for index, topic in enumerate(topics):
                if index == stop_at:
                    break
                writer.write(topic, _header(classes, index + 1), index + 1)
            raise Stop()
    with BagReader(path) as reader:
        written = [(m.topic, stamp_to_ns(m.message.stamp)) for m in reader.messages()]
        assert reader.message_count == stop_at
    assert written == [(topic, index + 1) for index, topic in enumerate(topics[:stop_at])]


@pytest.mark.parametrize("storage", STORAGES)
def test_declared_topics_and_raw_messages_round_trip(tmp_path: Path, storage: str) -> None:
    classes = RosbagsMessageClasses()
    path = tmp_path / "bag"
    raw = classes.typestore.serialize_cdr(_header(classes, 7), "std_msgs/msg/Header")
    with BagWriter(path, storage=storage, typestore=classes.typestore) as writer:
        writer.add_topic("/empty", "std_msgs/msg/Header")
        writer.add_topic("/raw", "std_msgs/msg/Header")
        writer.write_serialized("/raw", raw, 7)
        with pytest.raises(BagError, match="not declared"):
            writer.write_serialized("/other", raw, 8)
        with pytest.raises(BagError, match="cannot write"):
            writer.add_topic("/raw", "std_msgs/msg/String")
    writer.close()  # a second close does nothing
    with BagReader(path) as reader:
        assert reader.topics == {"/empty": "std_msgs/msg/Header", "/raw": "std_msgs/msg/Header"}
        assert [(t, s, bytes(r)) for t, s, r in reader.raw_messages(["/raw"])] == [("/raw", 7, bytes(raw))]


def test_refusals_say_what_to_change(tmp_path: Path) -> None:
    with pytest.raises(BagError, match=r"bag not found: .*\(give the path of a rosbag2 folder\)"):
        BagReader(tmp_path / "none")
    with pytest.raises(BagError, match=r"not a rosbag2 folder \(no metadata.yaml\)"):
        BagReader(tmp_path)
    with pytest.raises(BagError, match=r"already exists: .*\(remove it or choose another path\)"):
        BagWriter(tmp_path)
    with pytest.raises(BagError, match="unknown bag storage"):
        BagWriter(tmp_path / "x", storage="ros1")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metadata.yaml").write_text("rosbag2_bagfile_information: [")
    with pytest.raises(BagError, match="cannot open bag"):
        with BagReader(tmp_path / "broken"):
            pass
