"""Start a simulator in its own process on a free port and talk to its control API.

Used by the tests and the demo. It launches ``python -m simulators.server``; the integration
itself still reaches the simulator only through its HTTP clients and configured base URLs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
API_PREFIX = {"bluecherry": "api/v1/", "seko": "api/"}
DEFAULT_KEYS = {"bluecherry": "bc-dev-key", "seko": "seko-dev-key"}


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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.session.close()


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
    env = {**os.environ, **(extra_env or {})}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [sys.executable, "-m", "simulators.server", name, "--port", str(port), "--db", str(db_path),
               "--api-key", api_key]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_file or subprocess.DEVNULL, stderr=log_file or subprocess.DEVNULL,
        start_new_session=True,
    )
    sim = RunningSimulator(name=name, port=port, api_key=api_key, process=process)
    try:
        sim.wait_until_up()
    except BaseException:  # interrupted too (Ctrl-C): never leave a simulator nobody knows of
        sim.stop()
        raise
    return sim
