"""Print the exception kinds catalogue as the operations manual's Markdown page.

``manage.py exception_kinds > docs/exception-kinds.md``; a test checks the page is current.
"""

from __future__ import annotations

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


class Command(BaseCommand):
    help = "Print the exception kinds catalogue as Markdown (the operations manual's page)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(render_markdown(), ending="")
