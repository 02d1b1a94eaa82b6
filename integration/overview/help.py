"""The operations manual inside the dashboard (issue 10): docs/operations.md at /help/.

The Markdown in docs/ is the one text: GitHub shows it, and this renders the same file
server-side, so the manual never exists in two versions. The other pages of docs/ (stock,
items, reconciliation, the kinds and the permissions) are served beside it, because the manual
links to them; the images come only from docs/ and docs/screenshots, by names found in those
folders, so no path from the URL ever reaches the file system.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import markdown
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from integration.shared.roles import require

DOCS_DIR = Path(settings.BASE_DIR) / "docs"
MANUAL = "operations.md"
IMAGE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
# Links between the docs pages are written for GitHub (``stock.md``, ``../README.md``); in the
# dashboard a page of docs/ is served at /help/<name>.md, so only links leaving docs/ need care.
_LEAVES_DOCS = re.compile(r'href="\.\./([^"]*)"')


def _listing(folder: Path, suffixes: set[str] | dict[str, str]) -> dict[str, Path]:
    """Name -> path of the files directly in ``folder`` with one of ``suffixes``."""
    if not folder.is_dir():
        return {}
    return {p.name: p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes}


@functools.lru_cache(maxsize=32)
def _render(path: Path, mtime: float) -> tuple[str, str]:
    """The page as HTML and its table of contents (sections and subsections); cached per file
    version (``mtime`` is the key's point)."""
    text = path.read_text(encoding="utf-8")
    converter = markdown.Markdown(
        extensions=["tables", "fenced_code", "toc", "sane_lists"],
        extension_configs={"toc": {"permalink": False, "toc_depth": "2-3"}},
        output_format="html",
    )
    html = converter.convert(text)
    # A link out of docs/ (the README) has no page here: point it at nothing rather than a 404.
    return _LEAVES_DOCS.sub('href="#" title="in the repository: \\1"', html), converter.toc


def render_doc(name: str) -> tuple[str, str]:
    """(html, table of contents) of a page of docs/; 404 for a name that is not one."""
    pages = _listing(DOCS_DIR, {".md"})
    if name not in pages:
        raise Http404(f"No page {name!r} in the manual.")
    path = pages[name]
    return _render(path, path.stat().st_mtime)


@require_GET
@require("view_help")
def manual(request: HttpRequest, page: str = "") -> HttpResponse:
    """The manual (or another page of docs/, ``page`` without its .md), rendered; every role may
    read it."""
    name = f"{page}.md" if page else MANUAL
    html, toc = render_doc(name)
    pages = sorted(n for n in _listing(DOCS_DIR, {".md"}) if n != MANUAL)
    # The manual's own text is ours (docs/ in the repository), not user input: safe to show as HTML.
    return render(request, "help/page.html", {"html": mark_safe(html), "toc": mark_safe(toc), "name": name,
                                              "pages": pages, "is_manual": name == MANUAL})


@require_GET
@require("view_help")
def image(request: HttpRequest, name: str, folder: str = "") -> FileResponse:
    """An image the manual shows, from docs/ or docs/screenshots only, looked up by name."""
    base = DOCS_DIR / "screenshots" if folder == "screenshots" else DOCS_DIR
    found = _listing(base, IMAGE_SUFFIXES).get(name)
    if found is None:
        raise Http404(f"No image {name!r} in the manual.")
    response = FileResponse(found.open("rb"), content_type=IMAGE_SUFFIXES[found.suffix.lower()])
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response
