"""Fixtures of the network tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    """Small networks run fastest on one thread (two threads on a shared CPU mostly wait)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
