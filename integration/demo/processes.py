"""Start the processes of a demo (simulators, workers, web server) and stop every one of them
on the way out, whether the demo ends, fails, or is interrupted (Ctrl-C, SIGTERM)."""

from __future__ import annotations

import contextlib
import os
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import requests

from simulators.launcher import ROOT, RunningSimulator, start_simulator

# Issue 9: the web app is served as in production (README, "Run"), in the demo and the benchmarks alike.
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"


def web_server_args(port: int) -> list[str]:
    """Arguments after ``python`` that serve the web app on loopback ``port`` with gunicorn
    (processes and threads from config/gunicorn.conf.py: WEB_WORKERS, WEB_THREADS)."""
    return ["-m", "gunicorn", "--config", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}",
            "config.wsgi:application"]


def web_server_shape() -> dict[str, int]:
    """The processes and threads config/gunicorn.conf.py gives in this environment (for reports)."""
    conf = runpy.run_path(str(GUNICORN_CONF))
    return {"processes": conf["workers"], "threads": conf["threads"]}


class Supervisor:
    def __init__(self, data_dir: Path, env: dict[str, str], say: Callable[[str], None]):
        self.data_dir = data_dir
        self.env = env
        self.say = say
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.simulators: list[RunningSimulator] = []
        self._logs: list = []

    def __enter__(self) -> Supervisor:
        # SIGTERM ends the demo like Ctrl-C does, so the `finally` blocks stop the children.
        signal.signal(signal.SIGTERM, self._terminate)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    @staticmethod
    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def _log(self, name: str):
        handle = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115  (closed in stop_all)
        self._logs.append(handle)
        return handle

    def simulator(self, name: str, extra_env: dict[str, str] | None = None) -> RunningSimulator:
        db_path = self.data_dir / f"sim-{name}.sqlite3"
        sim = start_simulator(name, db_path, extra_env=extra_env, log_file=self._log(name))
        self.simulators.append(sim)
        self.say(f"{name} simulator up at {sim.base_url}")
        return sim

    def process(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env, stdout=self._log(name), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process))
        return process

    def wait_for_url(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.data_dir / (name + '.log')}")

    def stop_all(self) -> None:
        # SIGTERM to each main process only: a django-q2 cluster stops its own workers cleanly
        # (signalling the whole group at once makes it wait for workers already gone).
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # anything it left behind
        for sim in self.simulators:
            sim.stop()
        for handle in self._logs:
            handle.close()
        self.processes.clear()
        self.simulators.clear()


def rerun_self_in_child(env: dict[str, str]) -> int:
    """Run this same command again in a child process with ``env`` (Django reads settings
    once, at start-up, so a run with its own database needs a process of its own), pass
    SIGTERM on to it, and return its exit code. Ctrl-C reaches the child from the terminal
    too: the parent keeps waiting while the child stops what it started."""
    child = subprocess.Popen([sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]], env=env)

    def forward(signum: int, frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue


def child_environment(child_flag: str) -> tuple[Path, dict[str, str]]:
    """In the child ``rerun_self_in_child`` started: its data directory, and its environment
    without ``child_flag`` (the processes it starts are not themselves re-run children)."""
    env = {key: value for key, value in os.environ.items() if key != child_flag}
    return Path(os.environ["DATA_DIR"]), env
