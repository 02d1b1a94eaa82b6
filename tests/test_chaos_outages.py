"""The chaos run's outages: the system is taken down the way asked, brought back, and the time
until its backlog starts to go and has gone is measured (and reported as not recovered when it
never goes)."""

from __future__ import annotations

from demo.chaos_outages import REFUSED, Outage, OutageResult, late_recoveries


class FakeSimulator:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        self.calls.append((method, path, body or {}))
        return {}


def outage(how: str, backlog: list[int], events: list[str]) -> tuple[Outage, FakeSimulator]:
    """``backlog``: what is left at each look; the work taken grows by what went meanwhile."""
    simulator = FakeSimulator()
    left = iter(backlog)
    last = [backlog[0]]
    taken = [0]

    def next_backlog() -> int:
        now = next(left, last[0])
        taken[0] += max(0, last[0] - now)
        last[0] = now
        return now

    return Outage(simulator, "seko", (how,), seconds=0.05, backlog=next_backlog, progress=lambda: taken[0],
                  stop=lambda: events.append("stop"), start=lambda: events.append("start"),
                  restore_faults=lambda: events.append("restore")), simulator


def test_a_503_outage_sets_the_faults_then_restores_them_and_measures_the_drain():
    events: list[str] = []
    planned, simulator = outage("503", [5, 5, 3, 0], events)
    result = planned.run(lambda: None, timeout_s=5, poll_s=0.01)
    assert simulator.calls == [("POST", "_sim/faults", {"error_rate": 1.0}), ("POST", "_sim/faults", {})]
    assert events == ["restore"]
    assert result.backlog_when_back == 5
    assert result.first_release_s is not None and result.recovery_s is not None
    assert result.first_release_s <= result.recovery_s


def test_a_refused_outage_stops_and_starts_the_process():
    events: list[str] = []
    planned, simulator = outage(REFUSED, [2, 0], events)
    result = planned.run(lambda: None, timeout_s=5, poll_s=0.01)
    assert events == ["stop", "start", "restore"] and simulator.calls == [("POST", "_sim/faults", {})]
    assert result.recovery_s is not None


def test_a_backlog_that_never_goes_is_reported_unrecovered():
    events: list[str] = []
    planned, _ = outage("proxy_page", [4], events)
    result = planned.run(lambda: None, timeout_s=0.1, poll_s=0.01)
    assert result.first_release_s is None and result.recovery_s is None


def test_every_way_of_being_down_in_turn():
    events: list[str] = []
    planned, simulator = outage("503", [1, 0], events)
    planned.hows = ("503", REFUSED, "proxy_page")
    result = planned.run(lambda: None, timeout_s=5, poll_s=0.01)
    assert [c[2] for c in simulator.calls] == [{"error_rate": 1.0}, {}, {}, {"proxy_page_rate": 1.0}, {}]
    assert events == ["stop", "start", "restore"] and result.how == "503+refused+proxy_page"


def test_a_recovery_later_than_a_heartbeat_or_never_is_reported():
    on_time = OutageResult("seko", "503", 10, 40, first_release_s=1.5, recovery_s=6.0)
    late = OutageResult("bluecherry", "503", 10, 12, first_release_s=9.0, recovery_s=12.0)
    never = OutageResult("seko", "refused", 10, 5, first_release_s=None, recovery_s=None)
    nothing_waited = OutageResult("seko", "503", 10, 0, first_release_s=0.0, recovery_s=0.0)
    assert late_recoveries([on_time, nothing_waited], heartbeat_s=2, slack_s=1) == []
    found = late_recoveries([on_time, late, never], heartbeat_s=2, slack_s=1)
    assert len(found) == 2 and found[0].startswith("bluecherry") and "still waiting" in found[1]


def test_work_taken_while_new_work_still_arrives_counts_as_released():
    events: list[str] = []
    simulator = FakeSimulator()
    looks = iter([10, 12, 12, 0])
    taken = iter([0, 0, 3, 15])
    planned = Outage(simulator, "seko", ("503",), seconds=0.01, backlog=lambda: next(looks, 0),
                     progress=lambda: next(taken, 15), stop=lambda: None, start=lambda: None,
                     restore_faults=lambda: events.append("restore"))
    result = planned.run(lambda: None, timeout_s=5, poll_s=0.01)
    assert result.first_release_s is not None and result.recovery_s is not None
