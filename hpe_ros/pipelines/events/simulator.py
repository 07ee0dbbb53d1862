"""Event simulator: intensity frames -> DVS events by log-intensity threshold crossings.

Each pixel keeps a reference log intensity. Between two frames its log intensity is taken to
move linearly in time; every time it has moved one contrast threshold (C+ up, C- down) away
from the reference, an event fires at the linearly interpolated time and the reference moves by
one threshold (several events per pixel per frame pair when the change is large). Thresholds
can vary per pixel (``contrast_sigma``). A refractory period drops events that follow the
pixel's previous event too closely (the reference still moves, as if the pixel had fired).
Shot noise adds events at random pixels and times (Poisson, ``noise_rate_hz`` per pixel); they
obey the refractory period but do not move the reference. All randomness comes from one seeded
generator. Output: :data:`~hpe_ros.pipelines.events.representations.CD_EVENT_DTYPE`, sorted by time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpe_ros.pipelines.events.representations import CD_EVENT_DTYPE


@dataclass(frozen=True)
class EventSimulatorConfig:
    contrast_pos: float = 0.2  # C+, log-intensity step of an ON event
    contrast_neg: float = 0.2  # C-, log-intensity step of an OFF event
    contrast_sigma: float = 0.0  # per-pixel relative standard deviation of C+ and C-
    refractory_ns: int = 0
    noise_rate_hz: float = 0.0  # shot-noise events per pixel per second
    log_eps: float = 1e-3  # log(I + eps), I in [0, 1] (uint8 frames are divided by 255)
    seed: int = 0


def log_intensity(frame: np.ndarray, eps: float) -> np.ndarray:
    intensity = frame.astype(np.float64) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float64)
    return np.log(intensity + eps)


class EventSimulator:
    """Streams frames into events; the state (reference levels, last event times) carries over calls."""

    def __init__(self, height: int, width: int, config: EventSimulatorConfig | None = None) -> None:
        self.height, self.width = height, width
        self.config = config or EventSimulatorConfig()
        self.reset()

    def reset(self) -> None:
        cfg = self.config
        self.rng = np.random.default_rng(cfg.seed)
        n = self.height * self.width
        self.contrast_pos = self._per_pixel(cfg.contrast_pos, n)
        self.contrast_neg = self._per_pixel(cfg.contrast_neg, n)
        self.reference: np.ndarray | None = None
        self.last_log: np.ndarray | None = None
        self.last_stamp: int | None = None
        self.last_event_ns = np.full(n, np.iinfo(np.int64).min // 2, np.int64)

    def _per_pixel(self, contrast: float, n: int) -> np.ndarray:
        if self.config.contrast_sigma <= 0:
            return np.full(n, contrast)
        spread = 1.0 + self.config.contrast_sigma * self.rng.standard_normal(n)
        return np.maximum(contrast * spread, 0.01 * contrast)

    def simulate(self, frames: np.ndarray, stamps_ns: np.ndarray) -> np.ndarray:
        """Events for frames (T, H, W) at increasing ``stamps_ns`` (T,), following earlier calls."""
        frames = np.asarray(frames)
        stamps = np.asarray(stamps_ns, dtype=np.int64)
        if (
            frames.ndim != 3
            or frames.shape[1:] != (self.height, self.width)
            or frames.shape[0] != stamps.size
        ):
            raise ValueError(f"frames must be (T, {self.height}, {self.width}) with T stamps")
        chunks = []
        for frame, stamp in zip(frames, stamps, strict=True):
            current = log_intensity(frame, self.config.log_eps).ravel()
            # the three are set together, on the first frame
            if self.reference is None or self.last_log is None or self.last_stamp is None:
                self.reference = current.copy()
            else:
                if stamp <= self.last_stamp:
                    raise ValueError("frame stamps must increase")
                chunks.append(self._between(self.last_log, current, self.last_stamp, int(stamp)))
            self.last_log, self.last_stamp = current, int(stamp)
        return np.concatenate(chunks) if chunks else np.empty(0, CD_EVENT_DTYPE)

    def _between(self, start: np.ndarray, end: np.ndarray, t0: int, t1: int) -> np.ndarray:
        ref = self.reference
        assert ref is not None  # simulate sets it on the first frame
        n_pos = np.floor(np.maximum(end - ref, 0.0) / self.contrast_pos).astype(np.int64)
        n_neg = np.floor(np.maximum(ref - end, 0.0) / self.contrast_neg).astype(np.int64)
        crossings = n_pos + n_neg  # one of the two is zero
        pixel = np.repeat(np.arange(crossings.size), crossings)
        rank = np.arange(pixel.size) - np.repeat(np.cumsum(crossings) - crossings, crossings) + 1
        up = n_pos[pixel] > 0
        step = np.where(up, self.contrast_pos[pixel], -self.contrast_neg[pixel])
        level = ref[pixel] + rank * step
        change = end[pixel] - start[pixel]
        safe = np.where(change == 0, 1.0, change)
        frac = np.clip((level - start[pixel]) / safe, 0.0, 1.0)
        t = t0 + np.rint(frac * (t1 - t0)).astype(np.int64)
        self.reference = ref + n_pos * self.contrast_pos - n_neg * self.contrast_neg
        polarity = up.astype(np.int8)

        if self.config.noise_rate_hz > 0:
            expected = self.config.noise_rate_hz * crossings.size * (t1 - t0) * 1e-9
            k = self.rng.poisson(expected)
            pixel = np.concatenate([pixel, self.rng.integers(0, crossings.size, k)])
            t = np.concatenate([t, self.rng.integers(t0, t1, k)])
            polarity = np.concatenate([polarity, self.rng.integers(0, 2, k).astype(np.int8)])
        if self.config.refractory_ns > 0 and pixel.size:
            keep = self._refractory(pixel, t)
            pixel, t, polarity = pixel[keep], t[keep], polarity[keep]

        order = np.argsort(t, kind="stable")
        events = np.empty(order.size, CD_EVENT_DTYPE)
        events["x"] = pixel[order] % self.width
        events["y"] = pixel[order] // self.width
        events["t"] = t[order]
        events["p"] = polarity[order]
        return events

    def _refractory(self, pixel: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Keep an event only if its pixel's previous kept event is ``refractory_ns`` or more before it.

        Exact sequential rule, vectorised over pixels: candidates are grouped per pixel in time
        order and the k-th candidates of all pixels are decided together, k = 0, 1, ...
        """
        order = np.lexsort((t, pixel))
        pix, times = pixel[order], t[order]
        starts = np.flatnonzero(np.r_[True, pix[1:] != pix[:-1]])
        sizes = np.diff(np.r_[starts, pix.size])
        keep_sorted = np.zeros(pix.size, bool)
        last = self.last_event_ns
        for k in range(int(sizes.max())):
            at = starts[sizes > k] + k
            ok = times[at] - last[pix[at]] >= self.config.refractory_ns
            keep_sorted[at[ok]] = True
            last[pix[at[ok]]] = times[at[ok]]
        keep = np.empty_like(keep_sorted)
        keep[order] = keep_sorted
        return keep


def simulate_events(
    frames: np.ndarray, stamps_ns: np.ndarray, config: EventSimulatorConfig | None = None
) -> np.ndarray:
    """One-shot :class:`EventSimulator` over a whole clip."""
    return EventSimulator(frames.shape[1], frames.shape[2], config).simulate(frames, stamps_ns)
