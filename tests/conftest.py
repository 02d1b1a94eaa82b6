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

from demo.launcher import RunningSimulator, start_simulator

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


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


@pytest.fixture
def bluecherry(bluecherry_server: RunningSimulator) -> Iterator[RunningSimulator]:
    """The Blue Cherry simulator, reset, with the integration's settings pointing at it."""
    bluecherry_server.control("POST", "_sim/reset")
    old = (settings.BLUECHERRY_BASE_URL, settings.BLUECHERRY_API_KEY)
    settings.BLUECHERRY_BASE_URL, settings.BLUECHERRY_API_KEY = bluecherry_server.base_url, bluecherry_server.api_key
    yield bluecherry_server
    settings.BLUECHERRY_BASE_URL, settings.BLUECHERRY_API_KEY = old


@pytest.fixture
def seko(seko_server: RunningSimulator) -> Iterator[RunningSimulator]:
    """The Seko simulator, reset, with the integration's settings pointing at it."""
    seko_server.control("POST", "_sim/reset")
    old = (settings.SEKO_BASE_URL, settings.SEKO_API_KEY)
    settings.SEKO_BASE_URL, settings.SEKO_API_KEY = seko_server.base_url, seko_server.api_key
    yield seko_server
    settings.SEKO_BASE_URL, settings.SEKO_API_KEY = old


@pytest.fixture
def fixtures_dir() -> Path:
    """The real iHub bodies in ../shared/fixtures (kept in tests/fixtures as a copy)."""
    return Path(__file__).parent / "fixtures" / "seko-ihub-v1"
