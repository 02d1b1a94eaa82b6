"""Run one simulator over real HTTP: ``python -m simulators.server seko --port 8102 --db PATH``.

The simulator migrates its own database file on start, then serves with waitress (threads,
so a reply that is held back to simulate a timeout does not stall the other callers).
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=["bluecherry", "seko"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file for this simulator's state")
    parser.add_argument("--api-key", default=None)
    # The injected latency sleeps in a request thread: with few threads the simulator, not the
    # remote system it stands for, would cap concurrent callers (16 threads at 150 ms: ~107
    # calls/s, below what two workers ask for; issue 9).
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args(argv)

    os.environ["SIM_NAME"] = args.name
    os.environ["SIM_DB_PATH"] = args.db
    if args.api_key:
        os.environ["SIM_API_KEY"] = args.api_key
    os.environ["DJANGO_SETTINGS_MODULE"] = "simulators.settings"

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)

    from django.core.wsgi import get_wsgi_application
    from waitress import serve

    application = get_wsgi_application()
    startup = __import__(f"simulators.{args.name}.runtime", fromlist=["start_background"])
    startup.start_background()
    print(f"{args.name} simulator listening on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    serve(application, host=args.host, port=args.port, threads=args.threads, ident=f"{args.name}-sim",
          channel_timeout=120, connection_limit=200)


if __name__ == "__main__":
    main()
