"""Stopping the demo: one SIGTERM or Ctrl-C, to the parent or to the whole process group, sent
once or twice, stops every process the demo started, both simulators included.

The demo's shape is reproduced without its data: a parent re-runs itself in a child
(``rerun_self_in_child``, as ``manage.py demo`` does); the child's ``Supervisor`` starts both
simulators over HTTP and a long-running process standing in for the web server and workers,
writes every pid it started to a file, and waits to be stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from demo.launcher import ROOT

DEMO_SHAPE = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from demo.processes import Supervisor
    from demo.rerun import rerun_self_in_child

    data_dir = Path(sys.argv[1])
    if not os.environ.get("STOP_TEST_CHILD"):
        sys.exit(rerun_self_in_child({**os.environ, "STOP_TEST_CHILD": "1"}))
    try:
        with Supervisor(data_dir, dict(os.environ), lambda line: None) as supervisor:
            sims = [supervisor.simulator("bluecherry"), supervisor.simulator("seko")]
            worker = supervisor.process("worker", ["-c", "import time\\nwhile True: time.sleep(1)"])
            pids = [sim.process.pid for sim in sims] + [worker.pid, os.getpid()]
            (data_dir / "pids.json").write_text(json.dumps(pids))
            while True:
                time.sleep(0.2)
    except KeyboardInterrupt:
        sys.exit(130)
""")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every purpose but its exit status: read /proc to tell.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def demo(tmp_path: Path):
    script = tmp_path / "demo_shape.py"
    script.write_text(DEMO_SHAPE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STOP_TEST_CHILD", None)
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=ROOT, env=env,
                              start_new_session=True)  # its own process group, like `make demo`'s
    pids_file = tmp_path / "pids.json"
    deadline = time.monotonic() + 90
    while not pids_file.exists():
        assert parent.poll() is None, "the demo stand-in exited before it was up"
        assert time.monotonic() < deadline, "the demo stand-in did not come up"
        time.sleep(0.1)
    pids = json.loads(pids_file.read_text())
    yield parent, pids
    for pid in [parent.pid, *pids]:  # never leave anything behind, whatever the test found
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def assert_everything_stops(parent: subprocess.Popen, pids: list[int]) -> None:
    parent.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if alive(pid)] == []


@pytest.mark.parametrize("times", [1, 2])
def test_sigterm_to_the_demos_process_group_stops_both_simulators_and_every_process(demo, times):
    parent, pids = demo
    for _ in range(times):
        os.killpg(parent.pid, signal.SIGTERM)
        time.sleep(0.3)
    assert_everything_stops(parent, pids)


def test_ctrl_c_twice_to_the_whole_group_stops_everything(demo):
    parent, pids = demo
    os.killpg(parent.pid, signal.SIGINT)
    time.sleep(1.5)  # a person pressing Ctrl-C again while the stop is under way
    os.killpg(parent.pid, signal.SIGINT)
    assert_everything_stops(parent, pids)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_parent_alone_stops_everything(demo, signum):
    parent, pids = demo
    parent.send_signal(signum)
    assert_everything_stops(parent, pids)
