"""Print the permission matrix, and which screen or API endpoint needs which capability, as
docs/permissions.md: ``manage.py permissions > docs/permissions.md``. A test checks it is current."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from integration.shared.roles import ALL_GROUPS, DESCRIPTIONS, MATRIX
from integration.shared.url_walk import iter_routes

OPEN_ROUTES = {
    "login": "the sign-in page",
    "healthz": "health check for load balancers (no data beyond a count)",
    "healthz_workers": "workers' health for the monitor: 200 or 503 and the age of their last heartbeat",
    "metrics": "Prometheus scrape: demands `Authorization: Bearer` METRICS_TOKEN (off, 403, while unset)",
    "seko_webhook": "Seko's pushes; demands Seko's own token (and signature when configured)",
}


def render_markdown() -> str:
    lines = [
        "# Who may do what",
        "",
        "Generated from `integration/shared/roles.py` and the URL patterns by",
        "`manage.py permissions > docs/permissions.md`; do not edit by hand (a test checks it is current).",
        "",
        "Roles are Django groups. A user in several groups has every capability of each; a superuser has",
        "all. Every screen and API endpoint names one capability (a view decorated with",
        "`roles.require(...)`, or a DRF view with `capability` and, for writes, `write_capability`).",
        "Without it a signed-in user gets 403; an anonymous one is sent to sign in (screens) or gets",
        "401/403 (API). The demo (`make demo`) seeds one user per group: `ops`, `cx`, `finance`, `data`,",
        "`admin` (integration-admin), password `<name>-demo`.",
        "",
        "## Capabilities",
        "",
        "| capability | " + " | ".join(ALL_GROUPS) + " | what it allows |",
        "|---|" + "---|" * len(ALL_GROUPS) + "---|",
    ]
    for capability, groups in MATRIX.items():
        marks = " | ".join("✓" if g in groups else "" for g in ALL_GROUPS)
        lines.append(f"| `{capability}` | {marks} | {DESCRIPTIONS.get(capability, '')} |")
    lines += ["", "## Screens and API endpoints", "", "| path | name | read | write |", "|---|---|---|---|"]
    open_lines = []
    for route in iter_routes():
        if route.pattern.startswith("admin/") or "format" in route.pattern:
            continue  # the admin is staff-only; format suffixes repeat their endpoint
        if route.name in OPEN_ROUTES or route.name == "logout":
            open_lines.append(f"- `/{route.pattern}` ({route.name}): "
                              f"{OPEN_ROUTES.get(route.name, 'signs the user out (POST)')}")
            continue
        read = f"`{route.capability}`" if route.capability else "signed in"
        write = f"`{route.write_capability}`" if route.write_capability else ""
        lines.append(f"| `/{route.pattern}` | {route.name} | {read} | {write} |")
    lines += ["", "## Open without signing in", "", *open_lines, "- `/static/…`: CSS, htmx",
              "", "The Django admin (`/admin/`) is for staff users only (the demo's `admin`).", ""]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print docs/permissions.md (the permission matrix and the capability of every URL)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(render_markdown(), ending="")
