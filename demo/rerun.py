"""Running a management command again in a child process of its own.

Django reads settings once, at start-up, so a run with its own database (a demo, a chaos run,
a benchmark) needs a process whose environment points the settings there: the command re-runs
itself as a child with that environment, and the child, finding ``CHILD_FLAG`` set, does the work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import IO, Any

from django.core.management.base import BaseCommand

CHILD_FLAG = "BRIDGE_RERUN_CHILD"


def child_env(data_dir: Path, settings_env: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``settings_env`` on top, for a re-run child that keeps
    its state in ``data_dir`` and writes its progress as it happens (unbuffered)."""
    return {**os.environ, **settings_env, CHILD_FLAG: "1", "DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


def rerun_self_in_child(env: dict[str, str], *, stdout: IO[bytes] | None = None) -> int:
    """Run this same command again in a child process with ``env`` (its standard output to
    ``stdout`` if given), pass SIGTERM on to it, and return its exit code. Ctrl-C reaches the
    child from the terminal too: the parent keeps waiting while the child stops what it started."""
    child = subprocess.Popen([sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]], env=env, stdout=stdout)

    def forward(signum: int, frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            # Ctrl-C at a terminal reaches the child too, but a SIGINT sent to this process
            # alone (`kill -INT`) would not: pass it on (a duplicate is harmless to the child).
            forward(signal.SIGINT, None)
            continue


def child_environment() -> tuple[Path, dict[str, str]]:
    """In the child ``rerun_self_in_child`` started: its data directory, and its environment
    without ``CHILD_FLAG`` (the processes it starts are not themselves re-run children)."""
    env = {key: value for key, value in os.environ.items() if key != CHILD_FLAG}
    return Path(os.environ["DATA_DIR"]), env


class ChildRunCommand(BaseCommand):
    """A command that does its work in a re-run child: in the parent, ``run_parent`` prepares
    the child's environment, re-runs and returns the exit code; in the child, ``run_child``
    does the work."""

    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        if os.environ.get(CHILD_FLAG):
            self.run_child(options)
        else:
            sys.exit(self.run_parent(options))

    def run_parent(self, options: dict[str, Any]) -> int:
        raise NotImplementedError

    def run_child(self, options: dict[str, Any]) -> None:
        raise NotImplementedError
