"""The frame-to-event simulator on made scenes: polarity, place, time, refractory, determinism."""

from __future__ import annotations

import numpy as np

from hpe_ros.io.events import Evt3Decoder, encode_evt3
from hpe_ros.pipelines.events.representations import CD_EVENT_DTYPE
from hpe_ros.pipelines.events.simulator import EventSimulator, EventSimulatorConfig, simulate_events

H, W = 8, 40
STEP_NS = 10_000_000  # 100 frames per second


def moving_edge(frames: int = 11, speed: int = 3, dark: float = 0.1, bright: float = 0.9) -> np.ndarray:
    """A bright region entering from the left: column c is bright once c < speed * k."""
    video = np.full((frames, H, W), dark)
    for k in range(frames):
        video[k, :, : speed * k] = bright
    return video


def test_moving_edge_gives_on_events_at_the_edge_between_its_frames():
    video = moving_edge()
    stamps = np.arange(video.shape[0]) * STEP_NS
    events = simulate_events(video, stamps, EventSimulatorConfig(contrast_pos=0.3, contrast_neg=0.3))
    assert events.dtype == CD_EVENT_DTYPE and events.size > 0
    assert np.all(events["p"] == 1)  # brightening only
    assert np.all(np.diff(events["t"]) >= 0)
    # each event's column became bright between the two frames around its time
    frame_after = -(-events["t"] // STEP_NS)  # first frame at or after the event
    assert np.all(events["x"] < 3 * frame_after)
    assert np.all(events["x"] >= 3 * (frame_after - 1))
    # the log step (log(0.9/0.1) ~ 2.2) holds floor(2.2 / 0.3) = 7 thresholds: 7 events per pixel
    counts = np.bincount(events["y"].astype(int) * W + events["x"], minlength=H * W).reshape(H, W)
    assert np.all(counts[:, :30] == 7) and np.all(counts[:, 30:] == 0)
    # within a frame pair the crossings are spread linearly in time
    one_pixel = events[(events["x"] == 4) & (events["y"] == 0)]["t"]
    assert np.all((one_pixel > STEP_NS) & (one_pixel <= 2 * STEP_NS))
    spacing = np.diff(one_pixel)
    assert spacing.max() - spacing.min() <= 2 * STEP_NS // 10


def test_darkening_gives_off_events():
    video = moving_edge()[::-1].copy()
    events = simulate_events(video, np.arange(video.shape[0]) * STEP_NS)
    assert events.size > 0 and np.all(events["p"] == 0)


def test_refractory_period_is_respected():
    video = moving_edge()
    stamps = np.arange(video.shape[0]) * STEP_NS
    refractory = 3_000_000
    free = simulate_events(video, stamps, EventSimulatorConfig(contrast_pos=0.1, noise_rate_hz=50.0, seed=3))
    limited = simulate_events(
        video, stamps,
        EventSimulatorConfig(contrast_pos=0.1, refractory_ns=refractory, noise_rate_hz=50.0, seed=3),
    )
    assert 0 < limited.size < free.size
    pixel = limited["y"].astype(np.int64) * W + limited["x"]
    order = np.lexsort((limited["t"], pixel))
    same_pixel = pixel[order][1:] == pixel[order][:-1]
    gaps = np.diff(limited["t"][order])[same_pixel]
    assert gaps.size and gaps.min() >= refractory
    # without noise, what survives is a subset of the free events of the same pixels
    clean_free = simulate_events(video, stamps, EventSimulatorConfig(contrast_pos=0.1))
    clean_limited = simulate_events(
        video, stamps, EventSimulatorConfig(contrast_pos=0.1, refractory_ns=refractory)
    )
    assert (set(map(tuple, clean_limited[["x", "y", "t"]].tolist()))
            <= set(map(tuple, clean_free[["x", "y", "t"]].tolist())))


def test_seeded_determinism_and_streaming():
    video = moving_edge()
    stamps = np.arange(video.shape[0]) * STEP_NS
    config = EventSimulatorConfig(contrast_sigma=0.2, noise_rate_hz=20.0, refractory_ns=1_000_000, seed=11)
    first = simulate_events(video, stamps, config)
    again = simulate_events(video, stamps, config)
    other = simulate_events(video, stamps, EventSimulatorConfig(contrast_sigma=0.2, noise_rate_hz=20.0,
                                                                refractory_ns=1_000_000, seed=12))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # frames fed in two calls give the same stream as one call (without noise, which draws per call)
    quiet = EventSimulatorConfig(contrast_sigma=0.2, refractory_ns=1_000_000, seed=11)
    simulator = EventSimulator(H, W, quiet)
    streamed = np.concatenate(
        [simulator.simulate(video[:5], stamps[:5]), simulator.simulate(video[5:], stamps[5:])]
    )
    np.testing.assert_array_equal(streamed, simulate_events(video, stamps, quiet))


def test_event_count_scales_with_contrast_threshold():
    rng = np.random.default_rng(0)
    video = rng.uniform(0.05, 1.0, (6, H, W))
    stamps = np.arange(6) * STEP_NS
    counts = [simulate_events(video, stamps, EventSimulatorConfig(contrast_pos=c, contrast_neg=c)).size
              for c in (0.1, 0.2, 0.4)]
    assert counts[0] > counts[1] > counts[2] > 0
    assert 1.5 < counts[0] / counts[1] < 2.5


def test_simulated_events_round_trip_through_evt3():
    video = (moving_edge() * 255).astype(np.uint8)
    events = simulate_events(
        video, np.arange(video.shape[0]) * STEP_NS, EventSimulatorConfig(noise_rate_hz=30.0)
    )
    events["t"] = events["t"] // 1000 * 1000  # EVT 3.0 carries microseconds
    events = events[np.argsort(events["t"], kind="stable")]
    decoded = Evt3Decoder(W, H).decode(encode_evt3(events, vectorize=True))
    np.testing.assert_array_equal(decoded.cd, events)
