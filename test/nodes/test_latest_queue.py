import threading

import pytest

from hpe_ros.nodes.latest_queue import LatestQueue


def test_newest_items_win_and_drops_are_counted() -> None:
    queue: LatestQueue[int] = LatestQueue(2)
    assert [queue.put(i) for i in range(5)] == [0, 0, 1, 1, 1]
    assert queue.get(0.0) == 3 and queue.get(0.0) == 4 and queue.get(0.01) is None


def test_get_wakes_up_when_an_item_arrives() -> None:
    queue: LatestQueue[str] = LatestQueue(1)
    timer = threading.Timer(0.05, queue.put, args=("frame",))
    timer.start()
    assert queue.get(5.0) == "frame"
    timer.join()
    with pytest.raises(ValueError):
        LatestQueue(0)
