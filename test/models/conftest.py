"""Fixtures of the network tests."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """Every network test on one torch thread (see ``one_torch_thread``)."""
