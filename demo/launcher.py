"""Start a simulator in its own process on a free port, talk to its API, and point this
process's settings at it.

Used by the tests, the demo and the benchmarks. It launches ``python -m simulators.server``; the
integration itself still reaches the simulator only through its HTTP clients and configured base
URLs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
API_PREFIX = {"bluecherry": "api/v1/", "seko": "api/"}
DEFAULT_KEYS = {"bluecherry": "bc-dev-key", "seko": "seko-dev-key"}
# How each system's list endpoints name their paging: page size parameter, next page field.
PAGING = {"bluecherry": ("page_size", "next_page"), "seko": ("pageSize", "NextPage")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningSimulator:
    name: str
    port: int
    api_key: str
    process: subprocess.Popen[bytes]
    session: requests.Session = field(default_factory=requests.Session)
    # What it was started with, so a restart brings back the same simulator: same port, same
    # database file (its data kept), same environment.
    db_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{API_PREFIX[self.name]}"

    def _auth(self) -> tuple[dict[str, str], dict[str, str]]:
        if self.name == "bluecherry":
            return {"Ocp-Apim-Subscription-Key": self.api_key}, {}
        return {}, {"api_key": self.api_key}

    def control(self, method: str, path: str, json: Any = None, timeout: float = 30) -> Any:
        """Call the simulator's API (``_sim/...`` or any other path) and return the JSON body;
        raise on an HTTP error so a broken scenario fails loudly."""
        headers, params = self._auth()
        response = self.session.request(
            method, self.base_url + path.lstrip("/"), json=json, headers=headers, params=params, timeout=timeout
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def pages(self, path: str, page_size: int = 500) -> Iterator[Any]:
        """Every page of one of the simulator's list endpoints (``path`` may carry a query),
        following the next page number the system gives until it gives none."""
        size_parameter, next_page_field = PAGING[self.name]
        separator = "&" if "?" in path else "?"
        page = 1
        while page:
            body = self.control("GET", f"{path}{separator}page={page}&{size_parameter}={page_size}")
            yield body
            page = body.get(next_page_field)

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} simulator exited with {self.process.returncode}")
            try:
                self.control("GET", "_sim/state", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} simulator did not come up on port {self.port}")

    def kill(self) -> None:
        """SIGKILL the simulator (its whole session: nothing it started survives), as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.session.close()  # its kept connections died with it

    def restart(self, log_file: Any = None) -> None:
        """Kill it and start it again on the same port with the same database file, so callers
        meet connection errors meanwhile and then the same data; returns once it answers."""
        if self.db_path is None:
            raise RuntimeError(f"{self.name} simulator was not started by start_simulator: nothing to restart")
        self.kill()
        self.process = launch(self.name, self.port, self.db_path, self.api_key, self.extra_env, log_file)
        self.wait_until_up()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.session.close()


def launch(name: str, port: int, db_path: Path, api_key: str, extra_env: dict[str, str],
           log_file: Any = None) -> subprocess.Popen[bytes]:
    """The simulator's process (in a session of its own), not yet waited for."""
    env = {**os.environ, **extra_env}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [sys.executable, "-m", "simulators.server", name, "--port", str(port), "--db", str(db_path),
               "--api-key", api_key]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_file or subprocess.DEVNULL, stderr=log_file or subprocess.DEVNULL,
        start_new_session=True,
    )


def start_simulator(
    name: str,
    db_path: Path | str,
    *,
    port: int | None = None,
    api_key: str | None = None,
    extra_env: dict[str, str] | None = None,
    log_file: Any = None,
) -> RunningSimulator:
    port = port or free_port()
    api_key = api_key or DEFAULT_KEYS[name]
    extra_env = dict(extra_env or {})
    process = launch(name, port, Path(db_path), api_key, extra_env, log_file)
    sim = RunningSimulator(name=name, port=port, api_key=api_key, process=process, db_path=Path(db_path),
                           extra_env=extra_env)
    try:
        sim.wait_until_up()
    except BaseException:  # interrupted too (Ctrl-C): never leave a simulator nobody knows of
        sim.stop()
        raise
    return sim


def use_simulators(bluecherry: RunningSimulator, seko: RunningSimulator) -> None:
    """Point this process's clients at the two simulators (settings the flows read per call)."""
    settings.BLUECHERRY_BASE_URL, settings.BLUECHERRY_API_KEY = bluecherry.base_url, bluecherry.api_key
    settings.SEKO_BASE_URL, settings.SEKO_API_KEY = seko.base_url, seko.api_key


@contextlib.contextmanager
def running_simulators(data_dir: Path) -> Iterator[tuple[RunningSimulator, RunningSimulator]]:
    """Blue Cherry and Seko started in processes of their own (databases and logs in
    ``data_dir``), this process's settings pointed at them, both stopped on the way out."""
    sims: list[RunningSimulator] = []
    logs = []
    try:
        for name in ("bluecherry", "seko"):
            logs.append(open(data_dir / f"{name}.log", "ab"))  # noqa: SIM115  (closed below)
            sims.append(start_simulator(name, data_dir / f"sim-{name}.sqlite3", log_file=logs[-1]))
        bluecherry, seko = sims
        use_simulators(bluecherry, seko)
        yield bluecherry, seko
    finally:
        for sim in sims:
            sim.stop()
        for log in logs:
            log.close()
