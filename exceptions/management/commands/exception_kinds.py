"""Print the exception kinds catalogue as the operations manual's Markdown page.

``manage.py exception_kinds > docs/exception-kinds.md``; a test checks the page is current.
``manage.py exception_kinds --json`` prints the same catalogue as a JSON list.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from exceptions.catalogue import KINDS, Owner


def render_markdown() -> str:
    lines = [
        "# Exception kinds",
        "",
        "Generated from `exceptions/catalogue.py` by `manage.py exception_kinds > docs/exception-kinds.md`;",
        "do not edit by hand. Every exception in the queue has one of these kinds. One exception is open",
        "per kind and object (its trace key, such as `order:SO-100234`); a repeat adds to its count, and",
        "it closes itself when the same object later succeeds. Transient kinds retry on their own.",
        "",
        "| kind | owner | category | what it means |",
        "|---|---|---|---|",
    ]
    for kind in sorted(KINDS.values(), key=lambda k: k.code):
        lines.append(f"| `{kind.code}` | {kind.owner.value} | {kind.category.value} | {kind.title} |")
    for owner in Owner:
        owned = sorted((k for k in KINDS.values() if k.owner == owner), key=lambda k: k.code)
        if not owned:
            continue
        lines += ["", f"## Owned by `{owner.value}`"]
        for kind in owned:
            lines += ["", f"### `{kind.code}`: {kind.title}", "", f"Category: {kind.category.value}.", ""]
            lines.append(kind.playbook)
    return "\n".join(lines) + "\n"


def render_json() -> str:
    """The catalogue as a JSON list, one object per kind (issue 10): what a script or a test
    checks the operations manual (docs/operations.md) against."""
    kinds = sorted(KINDS.values(), key=lambda k: k.code)
    return json.dumps(
        [{"code": k.code, "owner": k.owner.value, "category": k.category.value, "playbook": k.playbook,
          "title": k.title} for k in kinds],
        indent=2,
    )


class Command(BaseCommand):
    help = "Print the exception kinds catalogue as Markdown (the default) or as JSON (--json)."

    def add_arguments(self, parser) -> None:
        shape = parser.add_mutually_exclusive_group()
        shape.add_argument("--json", action="store_true", help="a JSON list: code, owner, category, playbook, title")
        shape.add_argument("--markdown", action="store_true", help="the Markdown page (the default)")

    def handle(self, *args, **options) -> None:
        if options["json"]:
            self.stdout.write(render_json())
        else:
            self.stdout.write(render_markdown(), ending="")
