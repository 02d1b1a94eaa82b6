"""The oversell experiment: does the buffer stop the channels selling stock the warehouse has
already committed, and at what cost in units held back? (docs/stock.md explains the model.)

A seeded stream of peak-hour orders is replayed three times against fresh simulators, with the
integration publishing available-to-sell (a) with no buffer, (b) with a fixed buffer per SKU,
(c) with the velocity buffer. Time is compressed (``SPEED`` simulated seconds per real second)
and every duration is scaled with it: our push interval, Blue Cherry's batch cycle (set on its
simulator), the velocity window, the channels' refresh.

Where the oversell comes from: several sales channels each sell against the figure Blue Cherry
last applied, counting down only their own sales. Between two applied figures (our push
interval plus Blue Cherry's batch cycle) the channels together sell more than is left, while the
warehouse's stock also moves (damages, B2B picks); Seko then refuses orders for "no free
stock". Everything goes over real HTTP: orders to Seko's ``salesorders/v4/submit``, our figures
to Blue Cherry's ``inventory/ats-updates``, the channels' reads from Blue Cherry's ``inventory``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from bench.perf_common import say
from demo.launcher import RunningSimulator, running_simulators
from demo.seed import seed_mappings
from demo.stock import follow_until_applied
from integration.clients.errors import Rejected
from integration.models import Order, OrderLine
from integration.orders.mapper import map_order
from integration.shared.systems import seko_client
from integration.stock import flow as stock

LOCATION, DC = "UK3PL", "DCCL01"
COURIER = ("RoyalMail", "TPN24")
STRATEGIES = ("none", "fixed", "dynamic")


@dataclass(frozen=True)
class Scenario:
    """The replay's knobs, in simulated time. Chosen to look like a retailer's evening peak:
    a few hundred orders an hour over 60 SKUs whose popularity follows a long tail."""

    skus: int = 60
    channels: int = 3
    peak_hours: float = 3.0
    orders_per_hour: float = 200.0  # at peak, all channels together
    history_orders_per_hour: float = 100.0  # before the peak (what velocity first sees)
    popularity_skew: float = 1.0  # Zipf exponent
    stock_cover: tuple[float, float] = (0.4, 1.1)  # initial stock / expected peak demand, per SKU
    moves_per_hour: float = 6.0  # warehouse movements not from the channels (damages, B2B picks)
    push_minutes: float = 5.0
    cycle_minutes: float = 10.0
    window_hours: float = 3.0
    safety: float = 1.5
    buffer_max: int = 25
    fixed_buffer: int = 3
    refresh_minutes: float = 2.0  # how often a channel reads Blue Cherry's figures
    sample_minutes: float = 5.0  # how often held-back units are counted
    speed: float = 360.0  # simulated seconds per real second


# --- the seeded stream ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sale:
    at: float  # simulated seconds from the start of the peak
    channel: int
    sku: str
    qty: int


@dataclass(frozen=True)
class Move:
    at: float
    sku: str
    delta: int


def sku_name(index: int) -> str:
    return f"PEAK-{index:03d}"


History = list[tuple[float, str, int]]  # (seconds before the peak, sku, qty)


def build_stream(sc: Scenario, seed: int) -> tuple[dict[str, int], list[Sale], list[Move], History]:
    """Initial stock, the peak's sales and warehouse moves, and the order history before it."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) ** sc.popularity_skew for i in range(sc.skus)]
    total = sum(weights)
    share = {sku_name(i): w / total for i, w in enumerate(weights)}
    skus = list(share)
    stock_levels = {}
    for sku in skus:
        expected = share[sku] * sc.orders_per_hour * sc.peak_hours * 1.2  # 1.2 units per order
        stock_levels[sku] = max(2, round(expected * rng.uniform(*sc.stock_cover)))
    duration = sc.peak_hours * 3600
    window = sc.window_hours * 3600

    # The draws interleave (a moment, then its SKU, then the rest): the order is the seed's story.
    def popular_sku() -> str:
        return rng.choices(skus, weights=[share[s] for s in skus])[0]

    def quantity() -> int:
        return 1 if rng.random() < 0.8 else 2

    sales = []
    for t in arrivals(rng, sc.orders_per_hour, duration):
        sku = popular_sku()
        sales.append(Sale(at=t, channel=rng.randrange(sc.channels), sku=sku, qty=quantity()))
    moves = [Move(at=t, sku=popular_sku(), delta=-rng.randint(1, 3))
             for t in arrivals(rng, sc.moves_per_hour, duration)]
    history = [(window - t, popular_sku(), quantity())  # seconds before the peak
               for t in arrivals(rng, sc.history_orders_per_hour, window)]
    return stock_levels, sales, moves, history


def arrivals(rng: random.Random, per_hour: float, until_s: float) -> Iterator[float]:
    """The moments (seconds from 0) of events arriving at random at ``per_hour`` on average,
    until ``until_s``; each drawn only when asked for."""
    t = 0.0
    while True:
        t += rng.expovariate(per_hour / 3600)
        if t >= until_s:
            return
        yield t


# --- one replay -------------------------------------------------------------------------------


class Replay:
    def __init__(self, sc: Scenario, bluecherry: RunningSimulator, seko: RunningSimulator, strategy: str):
        self.sc, self.bc, self.seko, self.strategy = sc, bluecherry, seko, strategy
        self.seko_client = seko_client()
        self.t0 = 0.0
        self.rejected_orders = 0
        self.rejected_units = 0
        self.accepted_orders = 0
        self.not_offered = 0  # demand the channels turned away: they showed too little
        self.held_back_units = 0
        self.held_back_samples: list[tuple[float, int]] = []
        self.seen_as_of: list[dict[str, str | None]] = [{} for _ in range(sc.channels)]
        self.local: list[dict[str, int]] = [{} for _ in range(sc.channels)]
        self.order_seq = 0

    def real(self, sim_seconds: float) -> float:
        return sim_seconds / self.sc.speed

    def sim_now(self) -> float:
        return (time.monotonic() - self.t0) * self.sc.speed

    def prepare(self, levels: dict[str, int], history: History) -> None:
        sc = self.sc
        call_command("flush", interactive=False, verbosity=0)
        seed_mappings()
        for sim in (self.bc, self.seko):
            sim.control("POST", "_sim/reset")
        self.bc.control("POST", "_sim/faults", {"batch_cycle_seconds": sc.cycle_minutes * 60 / sc.speed})
        self.bc.control("POST", "_sim/items", [
            {"sku": sku, "division": "CAS", "style": sku[:8], "style_name": "Peak item", "color_code": "BLK",
             "color_name": "Black", "size": "M", "size_bucket": 3, "upc": "", "season": "AW26",
             "hs_number": "6109100010", "country_of_origin": "PT", "weight_kg": "0.250", "wholesale_price": "10.00",
             "retail_price": "25.00", "currency": "GBP", "status": "LIVE", "updated_at": "2026-11-27T08:00:00Z"}
            for sku in levels])
        self.seko.control("POST", "_sim/dcs", [DC])
        self.seko.control("POST", "_sim/services", [{"CourierName": COURIER[0], "CourierService": COURIER[1]}])
        self.seko.control("POST", "_sim/products", [{"ProductCode": s, "ProductDescription": s} for s in levels])
        self.seko.control("POST", "_sim/stock", [{"ProductCode": s, "DCCode": DC, "Quantity": q}
                                                 for s, q in levels.items()])
        # Our settings, in compressed time (velocity x lag is the same product in any unit).
        settings.STOCK_PUSH_INTERVAL_MINUTES = sc.push_minutes / sc.speed
        settings.BLUECHERRY_BATCH_CYCLE_MINUTES = sc.cycle_minutes / sc.speed
        settings.STOCK_VELOCITY_WINDOW_HOURS = sc.window_hours / sc.speed
        settings.STOCK_SAFETY_FACTOR = sc.safety
        settings.STOCK_BUFFER_MIN = 0
        settings.STOCK_BUFFER_MAX = sc.buffer_max
        # The order history of the last window, as the order flow would have left it.
        now = timezone.now()
        orders = [Order(ord_num=f"HIST-{i}", bc_status="SHIPPED", bc_updated_at=now, location=LOCATION,
                        ship_via="RMNDAY", order_date=now - timedelta(seconds=self.real(ago)),
                        status=Order.Status.DISPATCHED, seko_dc_code=DC)
                  for i, (ago, _, _) in enumerate(history)]
        Order.objects.bulk_create(orders, batch_size=500)
        OrderLine.objects.bulk_create([OrderLine(order=o, line_no=1, sku=sku, qty_ordered=qty)
                                       for o, (_, sku, qty) in zip(orders, history, strict=True)], batch_size=500)
        stock.take_snapshot()
        self.publish()
        follow_until_applied(timeout_s=30, pause_s=0.1, failure="Blue Cherry never applied the first figures")

    def publish(self) -> None:
        stock.publish_available(strategy=self.strategy, fixed_buffer=self.sc.fixed_buffer)
        stock.follow_publications()

    def bc_figures(self) -> dict[str, dict[str, Any]]:
        body = self.bc.control("GET", f"inventory?location={LOCATION}&page_size=500")
        return {row["sku"]: row for row in body["results"]}

    def refresh_channels(self) -> dict[str, dict[str, Any]]:
        """Each channel takes a figure Blue Cherry applied since it last looked; until then it
        counts down its own sales only (it cannot see the other channels')."""
        figures = self.bc_figures()
        for channel in range(self.sc.channels):
            for sku, row in figures.items():
                as_of = row.get("channel_available_as_of")
                if as_of != self.seen_as_of[channel].get(sku):
                    self.seen_as_of[channel][sku] = as_of
                    self.local[channel][sku] = row.get("channel_available") or 0
        return figures

    def sample_held_back(self, figures: dict[str, dict[str, Any]]) -> None:
        """Sellable units (Seko's free stock) the channels were not shown, now."""
        free = {line.product_code: line.quantity for line in self.seko_client.stock(dc=DC)}
        held = sum(max(0, qty - (figures.get(sku, {}).get("channel_available") or 0)) for sku, qty in free.items())
        self.held_back_units += held
        self.held_back_samples.append((self.sim_now() / 3600, held))

    def sell(self, sale: Sale) -> None:
        shown = self.local[sale.channel].get(sale.sku, 0)
        if shown < sale.qty:
            self.not_offered += 1
            return
        self.local[sale.channel][sale.sku] = shown - sale.qty
        self.order_seq += 1
        ord_num = f"PK-{self.strategy[:3].upper()}-{self.order_seq:05d}"
        now = timezone.now()
        payload = {"ord_num": ord_num, "customer": f"C{sale.channel}", "channel": "ECOM",
                   "order_date": now.isoformat(), "currency": "GBP",
                   "ship_to": {"name": "Ana Silva", "address1": "23 Victoria Street", "city": "Windsor",
                               "postcode": "SL4 1HE", "country": "GB"},
                   "lines": [{"line_no": 1, "sku": sale.sku, "qty_ordered": sale.qty, "unit_price": "25.00"}]}
        body, _ = map_order(payload, dc_code=DC, courier_name=COURIER[0], courier_service=COURIER[1])
        try:
            result = self.seko_client.submit_order(body)
        except Rejected as error:
            if "no free stock" not in (error.remote_message or ""):
                raise
            self.rejected_orders += 1
            self.rejected_units += sale.qty
            return
        self.accepted_orders += 1
        order = Order.objects.create(
            ord_num=ord_num, bc_status="PICKING", bc_updated_at=now, location=LOCATION, ship_via="RMNDAY",
            channel="ECOM", order_date=now, status=Order.Status.SENT, seko_guid=result.guid or "", seko_dc_code=DC,
            sent_at=timezone.now(),
        )
        OrderLine.objects.create(order=order, line_no=1, sku=sale.sku, qty_ordered=sale.qty)

    def move(self, move: Move) -> None:
        reply = self.seko.control("POST", "_sim/warehouse/adjust",
                                  [{"ProductCode": move.sku, "DCCode": DC, "Quantity": move.delta,
                                    "Reason": "Damaged"}])
        # What Seko pushes, applied as the webhook's processing applies it.
        stock.apply_stock_adjustments(reply["adjustments"])

    def run(self, sales: list[Sale], moves: list[Move]) -> dict[str, Any]:
        sc = self.sc
        duration = sc.peak_hours * 3600
        events: list[tuple[float, int, Any]] = sorted(
            [(s.at, 0, s) for s in sales] + [(m.at, 1, m) for m in moves], key=lambda e: (e[0], e[1]))
        next_push = next_refresh = next_sample = 0.0
        figures: dict[str, dict[str, Any]] = {}
        index = 0
        self.t0 = time.monotonic()
        while True:
            now = self.sim_now()
            if now >= duration:
                break
            if now >= next_push:
                self.publish()
                next_push = now + sc.push_minutes * 60
            if now >= next_refresh:
                figures = self.refresh_channels()
                next_refresh = now + sc.refresh_minutes * 60
            if now >= next_sample:
                self.sample_held_back(figures)
                next_sample = now + sc.sample_minutes * 60
            while index < len(events) and events[index][0] <= now:
                _, kind, event = events[index]
                index += 1
                if kind == 0:
                    self.sell(event)
                else:
                    self.move(event)
            upcoming = min(next_push, next_refresh, next_sample,
                           events[index][0] if index < len(events) else duration)
            pause = self.real(upcoming - self.sim_now())
            if pause > 0:
                time.sleep(min(pause, 0.05))
        return {
            "rejected_orders": self.rejected_orders,
            "held_back_units": self.held_back_units,
            "rejected_units": self.rejected_units,
            "accepted_orders": self.accepted_orders,
            "not_offered": self.not_offered,
        }


def run(data_dir: Path, *, seed: int = 11, scenario: Scenario | None = None, detail: bool = False) -> dict[str, Any]:
    """The three replays of the same stream; ``{"none": {...}, "fixed": {...}, "dynamic": {...}}``."""
    sc = scenario or Scenario()
    levels, sales, moves, history = build_stream(sc, seed)
    say(f"oversell: {len(levels)} SKUs, {len(sales)} peak orders over {sc.peak_hours} h, {len(moves)} warehouse "
        f"moves, {sc.channels} channels, lag {sc.push_minutes:g}+{sc.cycle_minutes:g} min, x{sc.speed:g} time")
    results: dict[str, Any] = {}
    samples: dict[str, list[tuple[float, int]]] = {}
    with running_simulators(data_dir) as (bluecherry, seko):
        for strategy in STRATEGIES:
            started = time.monotonic()
            replay = Replay(sc, bluecherry, seko, strategy)
            replay.prepare(levels, history)
            outcome = replay.run(sales, moves)
            samples[strategy] = replay.held_back_samples
            results[strategy] = outcome if detail else {k: outcome[k] for k in ("rejected_orders", "held_back_units")}
            say(f"oversell {strategy}: {outcome} ({time.monotonic() - started:.0f}s)")
    if detail:
        results["scenario"] = {**sc.__dict__, "seed": seed, "peak_orders": len(sales), "moves": len(moves),
                               "history_orders": len(history)}
        results["samples"] = samples
    return results


def chart(result: dict[str, Any], path: Path) -> None:
    """Rejected orders against held-back units per strategy (a PNG for docs/)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    names = [s for s in STRATEGIES if s in result]
    colours = {"none": "#c0392b", "fixed": "#7f8c8d", "dynamic": "#2471a3"}
    left.bar(names, [result[s]["rejected_orders"] for s in names], color=[colours[s] for s in names])
    left.set_title("Orders Seko rejected (no free stock)")
    left.set_ylabel("orders")
    for s in names:
        left.annotate(str(result[s]["rejected_orders"]), (names.index(s), result[s]["rejected_orders"]),
                      ha="center", va="bottom")
    samples = result.get("samples") or {}
    if samples:
        for s in names:
            points = samples.get(s) or []
            right.plot([p[0] for p in points], [p[1] for p in points], label=s, color=colours[s])
        right.set_title("Sellable units not shown to the channels")
        right.set_xlabel("peak hour (simulated)")
        right.set_ylabel("units held back")
        right.legend()
    else:
        right.bar(names, [result[s]["held_back_units"] for s in names], color=[colours[s] for s in names])
        right.set_title("Held-back units (summed over samples)")
    fig.suptitle("Oversell experiment: no buffer vs fixed buffer vs velocity buffer")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

