"""Start the processes of a demo (simulators, workers, web server) and stop every one of them
on the way out, whether the demo ends, fails, or is interrupted (Ctrl-C, SIGTERM)."""

from __future__ import annotations

import contextlib
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from demo.launcher import ROOT, RunningSimulator, start_simulator

# Issue 9: the web app is served as in production (README, "Run"), in the demo and the benchmarks alike.
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
# The signals that stop a demo: SIGTERM (a service manager, `kill`) and SIGINT (Ctrl-C).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
REPEAT_MEANS_HURRY_SECONDS = 1.0


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
        self.commands: dict[str, list[str]] = {}  # each named process's arguments, to start it again
        self.simulators: list[RunningSimulator] = []
        self._logs: list = []
        self._stopping = False
        self._stopping_since = 0.0
        self._hurry = False
        self._starting_child = False
        self._stop_waiting = False
        self._handlers: dict[int, Any] = {}

    def __enter__(self) -> Supervisor:
        # SIGTERM ends the demo like Ctrl-C does, so the `finally` blocks stop the children.
        self._stopping = False
        self._hurry = False
        self._handlers = {}
        if threading.current_thread() is threading.main_thread():
            self._handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
            for sig in STOP_SIGNALS:
                signal.signal(sig, self._on_stop_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        """The first SIGTERM or Ctrl-C ends the demo (as KeyboardInterrupt, so every `finally`
        runs); any later one only asks the stop under way to hurry. A SIGTERM to the demo's
        whole process group reaches this process twice (once itself, once forwarded by the
        parent) and Ctrl-C is often pressed twice: raised again, the second used to abort the
        stop half-way, after the web server and workers but before the simulators."""
        if self._starting_child:
            self._stop_waiting = True
            return
        if self._stopping:
            # The same stop delivered twice at once (group plus parent) is not a person asking
            # again: only a repeat a moment later cuts the workers' clean shutdown short.
            if time.monotonic() - self._stopping_since >= REPEAT_MEANS_HURRY_SECONDS:
                self._hurry = True
            return
        self._begin_stopping()
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def _stop_deferred(self) -> Iterator[None]:
        """Hold a stop back while a child is started and recorded, so it cannot fall between the
        two and leave a child nobody stops; it is taken as soon as the child is on the list.
        (Not by blocking the signals: a blocked mask would be inherited by the child.)"""
        self._starting_child = True
        try:
            yield
        finally:
            self._starting_child = False
        if self._stop_waiting and not self._stopping:
            self._stop_waiting = False
            self._begin_stopping()
            raise KeyboardInterrupt

    def _begin_stopping(self) -> None:
        if not self._stopping:
            self._stopping = True
            self._stopping_since = time.monotonic()

    def _log(self, name: str):
        handle = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115  (closed in stop_all)
        self._logs.append(handle)
        return handle

    def simulator(self, name: str, extra_env: dict[str, str] | None = None) -> RunningSimulator:
        db_path = self.data_dir / f"sim-{name}.sqlite3"
        with self._stop_deferred():  # a stop arriving now is taken once the simulator is on the list
            sim = start_simulator(name, db_path, extra_env=extra_env, log_file=self._log(name))
            self.simulators.append(sim)
        self.say(f"{name} simulator up at {sim.base_url}")
        return sim

    def process(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with self._stop_deferred():  # a stop arriving now is taken once the process is on the list
            process = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=self.env, stdout=self._log(name), stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes.append((name, process))
            self.commands[name] = args
        return process

    def kill(self, name: str) -> None:
        """SIGKILL every process started as ``name`` with its whole process group (a django-q2
        cluster's workers, gunicorn's workers), as a crash would, and forget it."""
        for entry in [entry for entry in self.processes if entry[0] == name]:
            process = entry[1]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self.processes.remove(entry)

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        """SIGKILL ``name`` (see ``kill``) and start it again with the same arguments."""
        self.kill(name)
        return self.process(name, self.commands[name])

    def restart_simulator(self, sim: RunningSimulator) -> None:
        """SIGKILL a simulator this supervisor started and start it again on the same port with
        the same database file; returns once it answers."""
        with self._stop_deferred():  # it stays on the list throughout: a stop still reaches it
            sim.restart(log_file=self._log(sim.name))
        self.say(f"{sim.name} simulator restarted at {sim.base_url}")

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
        """Stop every process and simulator this supervisor started. Signals arriving meanwhile
        only cut the grace period short (see ``_on_stop_signal``)."""
        self._begin_stopping()
        self._stop_children(lambda: self._hurry)

    def _stop_children(self, hurry: Callable[[], bool]) -> None:
        # SIGTERM to each main process only: a django-q2 cluster stops its own workers cleanly
        # (signalling the whole group at once makes it wait for workers already gone). Every
        # child is asked at once, the simulators too, so the slowest sets the wait, not the sum.
        children: list[tuple[subprocess.Popen[bytes], float]] = [
            (process, 15.0) for _, process in reversed(self.processes)]
        children += [(sim.process, 10.0) for sim in self.simulators]
        for process, _ in children:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
        started = time.monotonic()
        for process, grace in children:
            while process.poll() is None and time.monotonic() - started < grace and not hurry():
                time.sleep(0.05)
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            with contextlib.suppress(ChildProcessError):
                process.wait()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # anything it left behind in its own session
        for sim in self.simulators:
            sim.session.close()
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        self.processes.clear()
        self.simulators.clear()
