"""Shared test fixtures: the reference data folder and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# Fuzz tests run a CI-sized number of cases; HYPOTHESIS_PROFILE=long (scripts/fuzz_long.sh) runs
# 10,000 per test. No deadline: the machine is shared and noisy, hangs are caught by timeouts.
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout (or ``$HPE_ROS_SHARED_DATA``), if present."""
    candidate = Path(os.environ.get("HPE_ROS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    return candidate if candidate.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """The reference data folder; tests that use it are skipped where it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("reference data ../shared/data is absent (set HPE_ROS_SHARED_DATA to use another folder)")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for the module (module-scoped, so that module fixtures built under it
    get one thread too): small networks and training steps are many small ops, and two threads on
    the shared cores mostly wait for each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_K_INDEX = {"fx": 0, "skew": 1, "cx": 2, "fy": 4, "cy": 5}


def _with_intrinsics(info, **changes):
    """``info`` (a CameraInfo-like message) with K entries (fx, fy, cx, cy, skew) or fields changed."""
    k = list(info.k)
    for name, value in changes.items():
        if name in _K_INDEX:
            k[_K_INDEX[name]] = value
        else:
            setattr(info, name, value)
    info.k = k
    return info


@pytest.fixture
def with_intrinsics():
    """:func:`_with_intrinsics`: change a CameraInfo's K entries by name (fx, fy, cx, cy, skew)
    or its fields."""
    return _with_intrinsics


@pytest.fixture
def file_server(tmp_path):
    """A local HTTP server (127.0.0.1, a free port) serving tmp_path/served; yields (folder, base URL)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
