"""Fixtures of the event pipeline tests."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """Every event pipeline test module on one torch thread, its module fixtures included."""
