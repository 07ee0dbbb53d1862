from hpe_ros.io.diagnostics import ERROR, OK, WARN, StreamStats, diagnostic_array, snapshot_level
from hpe_ros.io.message_classes import RosbagsMessageClasses


def test_rates_and_counts_over_a_window() -> None:
    stats = StreamStats()
    stats.snapshot(0.0)
    for _ in range(10):
        stats.received()
    for _ in range(8):
        stats.processed(latency_s=0.05, processing_s=0.02)
    stats.dropped(2)
    snap = stats.snapshot(2.0)
    assert snap.input_hz == 5.0 and snap.output_hz == 4.0
    assert snap.latency_mean_s == 0.05 and snap.dropped_total == 2 and snap.dropped_in_window == 2
    assert snapshot_level(snap)[0] == OK
    later = stats.snapshot(3.0)
    assert later.input_hz == 0.0 and later.received_total == 10 and later.dropped_in_window == 0


def test_bad_input_warns_and_pipeline_errors_are_errors_for_one_window() -> None:
    stats = StreamStats()
    stats.snapshot(0.0)
    stats.received()
    stats.rejected("step too short")
    level, message = snapshot_level(stats.snapshot(1.0))
    assert level == WARN and "step too short" in message
    assert snapshot_level(stats.snapshot(2.0))[0] == OK
    stats.failed("RuntimeError: boom")
    assert snapshot_level(stats.snapshot(3.0))[0] == ERROR


def test_diagnostic_array_message() -> None:
    stats = StreamStats()
    stats.snapshot(0.0)
    msg = diagnostic_array(RosbagsMessageClasses(), "node: pipeline", "node", stats.snapshot(1.0), 5,
                           {"model": "x"})
    (status,) = msg.status
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == WARN and status.message == "no input received yet"
    assert values["model"] == "x" and values["received"] == "0"
