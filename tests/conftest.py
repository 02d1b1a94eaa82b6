"""Shared fixtures: both simulators as real HTTP servers in their own processes.

They start once per test session on free ports with fresh database files; each test that asks
for them gets them reset (data and faults), so tests do not see each other's orders.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from demo.launcher import RunningSimulator, start_simulator

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The shared assertions in tests/helpers.py explain their failures as a test module's do.
pytest.register_assert_rewrite("tests.helpers")


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simulators")


def _start(name: str, sim_dir: Path) -> Iterator[RunningSimulator]:
    with open(sim_dir / f"{name}.log", "ab") as log:
        sim = start_simulator(name, sim_dir / f"{name}.sqlite3", log_file=log)
        try:
            yield sim
        finally:
            sim.stop()


@pytest.fixture(scope="session")
def bluecherry_server(sim_dir: Path) -> Iterator[RunningSimulator]:
    yield from _start("bluecherry", sim_dir)


@pytest.fixture(scope="session")
def seko_server(sim_dir: Path) -> Iterator[RunningSimulator]:
    yield from _start("seko", sim_dir)


def _reset_and_pointed_at(server: RunningSimulator, system: str) -> Iterator[RunningSimulator]:
    """The simulator reset, with the integration's <SYSTEM>_BASE_URL and _API_KEY pointing at it."""
    server.control("POST", "_sim/reset")
    names = (f"{system}_BASE_URL", f"{system}_API_KEY")
    old = [getattr(settings, name) for name in names]
    for name, value in zip(names, (server.base_url, server.api_key), strict=True):
        setattr(settings, name, value)
    yield server
    for name, value in zip(names, old, strict=True):
        setattr(settings, name, value)


@pytest.fixture
def bluecherry(bluecherry_server: RunningSimulator) -> Iterator[RunningSimulator]:
    """The Blue Cherry simulator, reset, with the integration's settings pointing at it."""
    yield from _reset_and_pointed_at(bluecherry_server, "BLUECHERRY")


@pytest.fixture
def seko(seko_server: RunningSimulator) -> Iterator[RunningSimulator]:
    """The Seko simulator, reset, with the integration's settings pointing at it."""
    yield from _reset_and_pointed_at(seko_server, "SEKO")


@pytest.fixture
def fast_retries(settings):
    """Retries and backoff in hundredths of a second, so a retried call costs a test almost nothing."""
    settings.RETRY_BASE_SECONDS = 0.01
    settings.RETRY_MAX_SECONDS = 0.05
    settings.HTTP_BACKOFF_SECONDS = 0.01
    return settings


@pytest.fixture
def systems(bluecherry, seko, fast_retries) -> tuple[RunningSimulator, RunningSimulator]:
    """Both simulators, reset, the integration pointed at them and retrying fast."""
    return bluecherry, seko


@pytest.fixture
def fresh_reference_cache() -> Iterator[None]:
    """Seko's reference lists (DCs, courier services) asked afresh, not from another test's cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fixtures_dir() -> Path:
    """The real iHub bodies in ../shared/fixtures (kept in tests/fixtures as a copy)."""
    return Path(__file__).parent / "fixtures" / "seko-ihub-v1"
