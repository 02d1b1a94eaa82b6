"""The chaos run's outages: the system is taken down the way asked, brought back, and the time
until its backlog starts to go and has gone is measured (and reported as not recovered when it
never goes)."""

from __future__ import annotations

from demo.chaos_outages import REFUSED, Outage


class FakeSimulator:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        self.calls.append((method, path, body or {}))
        return {}


def outage(how: str, backlog: list[int], events: list[str]) -> tuple[Outage, FakeSimulator]:
    simulator = FakeSimulator()
    left = iter(backlog)
    last = [backlog[-1]]

    def next_backlog() -> int:
        last[0] = next(left, last[0])
        return last[0]

    return Outage(simulator, "seko", how, seconds=0.05, backlog=next_backlog,
                  stop=lambda: events.append("stop"), start=lambda: events.append("start"),
                  restore_faults=lambda: events.append("restore")), simulator


def test_a_503_outage_sets_the_faults_then_restores_them_and_measures_the_drain():
    events: list[str] = []
    planned, simulator = outage("503", [5, 5, 3, 0], events)
    result = planned.run(lambda: None, timeout_s=5, poll_s=0.01)
    assert simulator.calls[0] == ("POST", "_sim/faults", {"error_rate": 1.0})
    assert events == ["restore"]
    assert result.backlog_when_back == 5
    assert result.first_release_s is not None and result.recovery_s is not None
    assert result.first_release_s <= result.recovery_s


def test_a_refused_outage_stops_and_starts_the_process():
    events: list[str] = []
    planned, simulator = outage(REFUSED, [2, 0], events)
    result = planned.run(lambda: None, timeout_s=5, poll_s=0.01)
    assert events == ["stop", "start", "restore"] and simulator.calls == []
    assert result.recovery_s is not None


def test_a_backlog_that_never_goes_is_reported_unrecovered():
    events: list[str] = []
    planned, _ = outage("proxy_page", [4], events)
    result = planned.run(lambda: None, timeout_s=0.1, poll_s=0.01)
    assert result.first_release_s is None and result.recovery_s is None
