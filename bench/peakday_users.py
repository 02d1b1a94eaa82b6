"""The peak day's signed-in dashboard users, run in a process of their own
(``python -m bench.peakday_users SPEC``) so their CPU is never counted as the app's. No Django
here: plain HTTP, one ``requests`` session (keep-alive, the user's session cookie) per user, one
thread per user.

Each user clicks through the pages of their role in turn, opening an order found on the orders
list as a person would, and thinks for a random time (``think_s``: low, high) between clicks.
Prints one JSON object: every request as ``[unix time it started, page, ms, HTTP status]`` and
the think times drawn.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from typing import Any

import requests

# Where each role clicks, in order, round and round ("order" opens one seen on the orders list).
ROUTES = {
    "ops": ["overview", "exceptions", "orders", "order", "overdue", "stock", "items", "exceptions_open"],
    "cx": ["overview", "overdue", "orders", "order", "exceptions"],
    "finance": ["overview", "reconciliation", "orders", "order"],
}
PATHS = {"overview": "/", "exceptions": "/exceptions/", "exceptions_open": "/exceptions/?status=open",
         "orders": "/orders/", "overdue": "/overdue/", "stock": "/stock/", "items": "/items/",
         "reconciliation": "/reconciliation/"}
ORDER_LINK = re.compile(r'href="(/orders/[^/"?#]+/)"')


def one_user(spec: dict[str, Any], user: dict[str, str], rng: random.Random, deadline: float,
             samples: list[list[Any]], thinks: list[float], lock: threading.Lock) -> None:
    session = requests.Session()
    session.cookies.update({"sessionid": user["cookie"]})
    route = ROUTES[user["role"]]
    step = rng.randrange(len(route))  # users do not all start on the same page
    seen_orders: list[str] = []
    time.sleep(rng.uniform(0, spec["think_s"][1]))  # people do not all click in the same instant
    while time.time() < deadline:
        page = route[step % len(route)]
        step += 1
        if page == "order" and not seen_orders:
            continue  # nothing listed yet: the next page instead
        path = rng.choice(seen_orders) if page == "order" else PATHS[page]
        started = time.time()
        clock = time.perf_counter()
        try:
            response = session.get(spec["base"] + path, timeout=60, allow_redirects=False)
            status, body = response.status_code, response.text
        except requests.RequestException:
            status, body = 0, ""
        ms = (time.perf_counter() - clock) * 1000
        if page == "orders":
            seen_orders = ORDER_LINK.findall(body)[:50] or seen_orders
        think = rng.uniform(*spec["think_s"])
        with lock:
            samples.append([round(started, 3), page, round(ms, 1), status])
            thinks.append(round(think, 2))
        time.sleep(max(0.0, min(think, deadline - time.time())))


def run(spec: dict[str, Any]) -> dict[str, Any]:
    deadline = time.time() + spec["seconds"]
    samples: list[list[Any]] = []
    thinks: list[float] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=one_user, name=f"user-{user['name']}", daemon=True,
                                args=(spec, user, random.Random(f"{spec.get('seed', 0)}-{user['name']}"), deadline,
                                      samples, thinks, lock))
               for user in spec["users"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"samples": sorted(samples), "thinks_s": thinks, "users": len(threads)}


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    sys.stdout.write(json.dumps(run(spec)) + "\n")


if __name__ == "__main__":
    main()
