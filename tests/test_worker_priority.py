"""Each worker lowers its own CPU priority as it starts, so pages stay quick while it is busy."""

from __future__ import annotations

import os
import subprocess
import sys

from django_q.signals import post_spawn

from integration.shared import worker_priority


def test_a_worker_lowers_its_priority_by_the_setting_and_zero_leaves_it(db, settings, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(worker_priority.os, "nice", calls.append)
    settings.WORKER_NICENESS = 5
    post_spawn.send(sender="django_q", proc_name="Worker-1")  # as django-q2 sends it
    settings.WORKER_NICENESS = 0
    post_spawn.send(sender="django_q", proc_name="Worker-2")
    assert calls == [5]


def test_a_worker_that_may_not_change_its_priority_still_starts(settings, monkeypatch, caplog):
    def refused(increment: int) -> int:
        raise PermissionError("not permitted")

    monkeypatch.setattr(worker_priority.os, "nice", refused)
    settings.WORKER_NICENESS = 5
    worker_priority.lower_worker_priority()
    assert "could not lower" in caplog.text


def test_the_priority_really_drops_in_a_worker_process():
    code = ("import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup(); "
            "from integration.shared.worker_priority import lower_worker_priority; "
            "before = os.getpriority(os.PRIO_PROCESS, 0); lower_worker_priority(); "
            "print(os.getpriority(os.PRIO_PROCESS, 0) - before)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "WORKER_NICENESS": "5"})
    assert done.stdout.strip().splitlines()[-1] == "5"
