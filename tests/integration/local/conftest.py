"""The moto server the emulator tests run against (tests/moto_server.py starts and resets it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.moto_server import moto_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One server for the session (the replication engine tests reset it before each test)."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """One server per module (the Batch Operations tests reset it before each test)."""
    with moto_server() as url:
        yield url
