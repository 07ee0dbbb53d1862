"""Event frames, voxel grids, time surfaces and windows on small made event streams."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hpe_ros.pipelines.events.representations import (
    CD_EVENT_DTYPE,
    EventHPEFrameConfig,
    EventWindower,
    GrayFrameBuffer,
    concatenate_events,
    event_count_image,
    eventhpe_frames,
    or_pool_channels,
    pad_square_resize_nearest,
    partition_occupancy,
    take_events,
    time_surface,
    voxel_grid,
)


def make_events(x, y, t, p) -> np.ndarray:
    events = np.empty(len(t), CD_EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


def random_events(rng, n, height, width, t_span=1_000_000):
    return make_events(rng.integers(0, width, n), rng.integers(0, height, n),
                       np.sort(rng.integers(0, t_span, n)), rng.integers(0, 2, n))


def test_partition_occupancy_bins_equal_durations_and_ignores_polarity():
    events = make_events([0, 1, 1, 2, 3], [0, 0, 0, 1, 1], [100, 120, 130, 350, 500], [0, 1, 0, 1, 1])
    frames = partition_occupancy(events, 2, 4, partitions=4)  # window = 100 ns from t = 100
    assert frames.shape == (4, 2, 4) and frames.dtype == np.uint8
    assert frames[0].tolist() == [[1, 1, 0, 0], [0, 0, 0, 0]]  # t 100..199, duplicates give 1
    assert frames[1].sum() == 0
    assert frames[2].tolist() == [[0, 0, 0, 0], [0, 0, 1, 0]]  # t = 350
    assert frames[3].sum() == 0  # the last event (t = end) falls in no partition, as in EventHPE


def test_pad_resize_matches_explicit_padding_and_floor_sampling():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 2, (3, 50, 30)).astype(np.uint8)
    out = pad_square_resize_nearest(frames, 20)
    padded = np.pad(frames, ((0, 0), (0, 0), (10, 10)))
    src = np.floor(np.arange(20) * 2.5).astype(int)
    np.testing.assert_array_equal(out, padded[:, src][:, :, src])
    up = pad_square_resize_nearest(frames[:, :20, :20], 50)  # upsampling repeats pixels
    assert up.shape == (3, 50, 50) and np.array_equal(up[:, ::5, ::5][:, :10, :10], frames[:, :20:2, :20:2])


@pytest.mark.parametrize(("height", "width", "size"), [(31, 50, 20), (7, 3, 16), (40, 40, 13), (1, 9, 9)])
def test_pad_resize_of_tall_wide_and_odd_frames_is_nearest_sampling_of_the_padded_square(height, width, size):
    frames = np.random.default_rng(height).integers(0, 5, (2, height, width)).astype(np.uint8)
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2  # the odd pixel of a pad goes at the end
    padded = np.zeros((2, side, side), np.uint8)
    padded[:, top : top + height, left : left + width] = frames
    src = np.minimum(np.floor(np.arange(size) * (side / size)).astype(int), side - 1)
    np.testing.assert_array_equal(pad_square_resize_nearest(frames, size), padded[:, src][:, :, src])


def test_or_pool_channels_groups_like_eventhpe():
    frames = np.zeros((17, 2, 2), np.uint8)  # 17 // 8 = 2 partitions per channel
    frames[1, 0, 0] = 1  # channel 0 = partitions 0, 1
    frames[2, 0, 0] = 1  # channel 1 = partitions 2, 3
    frames[16, 1, 1] = 1  # the last channel takes partitions 14, 15 and the remainder 16
    pooled = or_pool_channels(frames, 8)
    assert pooled.shape == (8, 2, 2) and pooled.dtype == np.float32
    assert pooled[0, 0, 0] == 1 and pooled[1, 0, 0] == 1 and pooled[7, 1, 1] == 1 and pooled.sum() == 3
    with pytest.raises(ValueError):
        or_pool_channels(frames[:5], 8)


def test_eventhpe_frames_shape_and_rotation():
    rng = np.random.default_rng(1)
    height, width = 80, 50
    intervals = [random_events(rng, 300, height, width), random_events(rng, 300, height, width)]
    frames = eventhpe_frames(intervals, height, width, EventHPEFrameConfig(out_size=32))
    assert frames.shape == (8, 32, 32) and set(np.unique(frames)) <= {0.0, 1.0}
    assert frames[:, :, :5].sum() == 0  # zero padding on the narrow side: 15 px -> 6 output columns
    one = make_events([0], [0], [0], [1])
    two = make_events([0, 0], [0, 0], [0, 10], [1, 1])
    rotated = eventhpe_frames(
        [two, one, one], height, width,
        EventHPEFrameConfig(partitions_per_interval=4, out_size=height, rotate_180=True),
    )
    plain = eventhpe_frames([two, one, one], height, width,
                            EventHPEFrameConfig(partitions_per_interval=4, out_size=height))
    assert plain[0, 0, 15] == 1 and rotated[0, height - 1, 15 + width - 1] == 1


def test_voxel_grid_bilinear_in_time():
    events = make_events([1, 1, 2], [0, 0, 1], [0, 250, 1000], [1, 0, 1])
    grid = voxel_grid(events, 5, 2, 3)  # t* = 0, 1, 4
    assert grid.shape == (5, 2, 3)
    assert grid[0, 0, 1] == 1 and grid[1, 0, 1] == -1 and grid[4, 1, 2] == 1 and np.abs(grid).sum() == 3
    # t* = 0.5 for x = 2
    split = voxel_grid(make_events([0, 2, 1], [0, 0, 1], [0, 100, 400], [1, 0, 1]), 3, 2, 3)
    np.testing.assert_allclose(split[:, 0, 2], [-0.5, -0.5, 0.0])
    rng = np.random.default_rng(2)
    many = random_events(rng, 5000, 6, 7)
    counts = event_count_image(many, 6, 7)
    np.testing.assert_allclose(voxel_grid(many, 4, 6, 7).sum(axis=0), counts[1] - counts[0], atol=1e-4)
    normalized = voxel_grid(many, 4, 6, 7, normalize=True)
    assert abs(normalized[normalized != 0].mean()) < 1e-5


def test_time_surface_decays_from_last_event_per_pixel_and_polarity():
    events = make_events([0, 0, 1], [0, 0, 0], [0, 100, 200], [1, 1, 0])
    surface = time_surface(events, 1, 2, tau_ns=100.0)
    assert surface.shape == (2, 1, 2)
    np.testing.assert_allclose(surface[1, 0, 0], np.exp(-1.0))  # last ON event at 100, t_ref 200
    np.testing.assert_allclose(surface[0, 0, 1], 1.0)
    assert surface[0, 0, 0] == 0 and surface[1, 0, 1] == 0
    merged = time_surface(events, 1, 2, tau_ns=100.0, t_ref_ns=300, split_polarity=False)
    np.testing.assert_allclose(merged[0, 0], [np.exp(-2.0), np.exp(-1.0)])


def test_windower_by_time_and_count_with_gray_frames():
    rng = np.random.default_rng(3)
    events = random_events(rng, 1000, 4, 4, t_span=10_000)
    gray = GrayFrameBuffer()
    gray.add(2_000, np.full((4, 4), 7, np.uint8))
    gray.add(6_000, np.full((4, 4), 9, np.uint8))
    windower = EventWindower(4, 4, duration_ns=2_500, gray=gray)
    windows = []
    for chunk in np.array_split(events, 7):
        windows += windower.add(chunk)
    last = windower.flush()
    start = int(events["t"][0])
    assert [w.stamp_ns for w in windows] == [start + 2_500 * k for k in range(1, len(windows) + 1)]
    assert sum(w.events.size for w in windows) + (last.events.size if last else 0) == events.size
    for w in windows:
        assert np.all(w.events["t"] < w.stamp_ns) and np.all(w.events["t"] >= w.stamp_ns - 2_500)
    first = windows[0]
    assert first.gray[0, 0] == (7 if abs(first.stamp_ns - 2_000) < abs(first.stamp_ns - 6_000) else 9)
    counted = EventWindower(4, 4, count=300)
    out = []
    for chunk in np.array_split(events, 9):
        out += counted.add(chunk)
    assert [w.events.size for w in out] == [300, 300, 300]
    assert out[1].stamp_ns == events["t"][599]
    assert counted.flush().events.size == 100


def _windows_of(windower, packets):
    windows = []
    for packet in packets:
        windows += windower.add(packet)
    return windows


def test_windower_by_time_matches_a_plain_reference_across_packets_and_empty_windows():
    rng = np.random.default_rng(4)
    # bursts with empty windows between them, cut into packets at random places
    t = np.sort(np.concatenate([rng.integers(0, 3_000, 300), rng.integers(20_000, 21_000, 200)]))
    x, y, p = rng.integers(0, 4, t.size), rng.integers(0, 4, t.size), rng.integers(0, 2, t.size)
    events = make_events(x, y, t, p)
    windower = EventWindower(4, 4, duration_ns=700)
    windows = _windows_of(windower, np.split(events, np.sort(rng.integers(0, t.size, 11))))
    start = int(t[0])
    index = (t - start) // 700
    expected = [(start + (k + 1) * 700, int(np.count_nonzero(index == k))) for k in np.unique(index)[:-1]]
    assert [(w.stamp_ns, w.events.size) for w in windows] == expected
    assert windower.pending == np.count_nonzero(index == index[-1]) and windower.counts.resyncs == 0


def test_windower_near_zero_stamp_then_now_starts_a_new_grid_without_work_across_the_gap():
    now = 1_780_000_000 * 10**9  # 2026 in ns: 3.6e10 windows of 50 ms after a packet stamped at 0
    first = make_events([1, 2], [1, 1], [5_000, 7_000], [1, 0])
    second = make_events([3, 3, 0], [2, 2, 0], [now, now + 10**6, now + 60 * 10**6], [1, 1, 0])
    windower = EventWindower(4, 4, duration_ns=50 * 10**6)
    assert windower.add(first) == []
    started = time.perf_counter()
    windows = windower.add(second)
    assert time.perf_counter() - started < 0.1
    # the old grid's window is ended (stamped with its end), then the new grid starts at `now`
    assert [(w.stamp_ns, w.events.size) for w in windows] == [(5_000 + 50 * 10**6, 2), (now + 50 * 10**6, 2)]
    assert windower.counts.resyncs == 1 and windower.pending == 1


def test_windower_huge_jump_inside_one_packet_and_back_in_time():
    windower = EventWindower(4, 4, duration_ns=10**6)
    t = [0, 10**5, 10**15, 10**15 + 3 * 10**6]  # a 10^6 s jump inside one packet
    windows = windower.add(make_events([0] * 4, [0] * 4, t, [1] * 4))
    assert [w.stamp_ns for w in windows] == [10**6, 10**15 + 10**6] and windower.counts.resyncs == 1
    # 0.5 s behind the open window: late (dropped); 5 s behind: a new stream
    assert windower.add(make_events([1], [1], [10**15 - 5 * 10**8], [1])) == []
    assert windower.counts.late == 1 and windower.pending == 1
    back = 10**15 - 5 * 10**9
    windows = windower.add(make_events([1, 1], [1, 1], [back, back + 10**6], [1, 0]))
    assert [(w.stamp_ns, w.events.size) for w in windows] == [(10**15 + 4 * 10**6, 1), (back + 10**6, 1)]
    assert windower.counts.resyncs == 2
    counts = windower.counts
    assert counts.events_in == counts.windowed + counts.late + windower.pending


def test_windower_sorts_an_unsorted_packet_and_keeps_windows_in_bounds():
    rng = np.random.default_rng(5)
    windower = EventWindower(4, 4, duration_ns=1_000)
    windows = []
    for base in range(0, 50_000, 5_000):  # like mono packets: stamp + random dt
        t = base + rng.integers(0, 6_000, 200)
        windows += windower.add(make_events(rng.integers(0, 4, 200), rng.integers(0, 4, 200), t, 1))
    assert windows and [w.stamp_ns for w in windows] == sorted(w.stamp_ns for w in windows)
    for w in windows:
        assert np.all(np.diff(w.events["t"]) >= 0)
        assert np.all(w.events["t"] < w.stamp_ns) and np.all(w.events["t"] >= w.stamp_ns - 1_000)
    assert windower.counts.late > 0
    counts = windower.counts
    assert counts.events_in == counts.windowed + counts.late + windower.pending


def test_windower_by_count_resyncs_and_drops_late_events():
    windower = EventWindower(4, 4, count=3)
    assert windower.add(make_events([0, 0], [0, 0], [10, 20], [1, 1])) == []
    windows = windower.add(make_events([0, 0, 0], [0, 0, 0], [15, 30, 10**12], [1, 1, 1]))
    # 15 is late; the jump to 10^12 ends the partial window [10, 20, 30]... which is full here
    assert [(w.stamp_ns, w.events.size) for w in windows] == [(30, 3)]
    assert windower.counts.late == 1 and windower.counts.resyncs == 1 and windower.pending == 1
    assert windower.discard() == 1 and windower.counts.discarded == 1 and windower.flush() is None


def test_events_are_concatenated_and_taken_as_bytes_like_numpy_does():
    rng = np.random.default_rng(4)
    parts = []
    for n in (0, 7, 130, 1):
        part = np.empty(n, CD_EVENT_DTYPE)
        part["x"], part["y"] = rng.integers(0, 1280, n), rng.integers(0, 720, n)
        part["t"], part["p"] = rng.integers(-(2**62), 2**62, n), rng.integers(0, 2, n)
        parts.append(part)
    parts.append(np.concatenate(parts)[::3])  # a strided view
    joined = concatenate_events(parts)
    assert joined.dtype == CD_EVENT_DTYPE and joined.flags.c_contiguous
    np.testing.assert_array_equal(joined, np.concatenate(parts))
    order = rng.permutation(joined.size)
    np.testing.assert_array_equal(take_events(joined, order), joined[order])
    keep = rng.integers(0, 2, joined.size).astype(bool)
    np.testing.assert_array_equal(take_events(joined, keep), joined[keep])
    other = np.zeros(2, [("t", "<i8"), ("p", "i1"), ("id", "u1")])  # dtypes differ: numpy's own rules
    with pytest.raises(TypeError):
        concatenate_events([joined, other])
