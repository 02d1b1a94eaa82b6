"""Every repository path README.md and the pages of docs/ name exists, so a file moved or renamed
cannot leave the developers' map (or the operators' manual) pointing at nothing.

What counts as a path:
- a Markdown link's target that is not a web address or an anchor (relative to its document);
- a token starting with a top-level folder of the repository (`integration/orders/rules.py`,
  `tests/e2e`, `static/vendor/`);
- a file name with an extension the repository holds (`rules.py`, `items.md`, `base.html`),
  alone or after a partial folder (`clients/seko.py`): it must name a file somewhere in it;
- a dotted module of ours (`integration.tasks.reconcile`, `config.wsgi:application`): a module
  or package, and what follows a module's name defined in it (an exception kind's code, such as
  `integration.malformed_record`, is not a module).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from exceptions.catalogue import KINDS

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SKIPPED_FOLDERS = {".git", ".venv", ".data", ".hypothesis", ".ruff_cache", ".pytest_cache",
                   ".import_linter_cache", "__pycache__", "node_modules"}
FILE_EXTENSIONS = ("py", "md", "html", "json", "toml", "csv", "png", "svg", "txt", "yml", "yaml")

LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
# A token made of path characters, not starting inside a longer word, URL or path.
PATH_TOKEN = re.compile(r"(?<![\w/.:*<>{}-])([\w.-]+(?:/[\w.-]+)*/?)(?![\w/*<>{}-])")
FILE_NAME = re.compile(r"\.(?:" + "|".join(FILE_EXTENSIONS) + r")$")
DOTTED_MODULE = re.compile(r"^[a-z_]\w*(?:\.[a-z_]\w*)+(?::\w+)?$")


@cache
def top_level_names() -> frozenset[str]:
    return frozenset(entry.name for entry in ROOT.iterdir()
                     if entry.name not in SKIPPED_FOLDERS and not entry.name.endswith(".egg-info"))


@cache
def repository_files() -> tuple[str, ...]:
    """Every file of the repository as a path relative to its root, with forward slashes."""
    files = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if path.is_file() and not SKIPPED_FOLDERS.intersection(relative.parts):
            files.append(relative.as_posix())
    return tuple(files)


def exists_beside(document: Path, path: str) -> bool:
    path = path.rstrip("/") or "."
    return (ROOT / path).exists() or (document.parent / path).exists()


def names_a_repository_file(fragment: str) -> bool:
    """A file name, or the tail of a path (`clients/seko.py`), that ends some file of ours."""
    return any(file == fragment or file.endswith("/" + fragment) for file in repository_files())


def names_a_module_of_ours(dotted: str) -> bool:
    """`a.b` or `a.b:c` a module or package of ours; `a.b.c`, `c` defined in module `a.b`."""
    parts = dotted.replace(":", ".").split(".")
    for length in range(len(parts), 1, -1):
        base = ROOT.joinpath(*parts[:length])
        if (base / "__init__.py").is_file():
            return length == len(parts)
        if base.with_suffix(".py").is_file():
            return length == len(parts) or defines(base.with_suffix(".py"), parts[length])
    return False


def defines(module: Path, name: str) -> bool:
    pattern = rf"^\s*(?:def|async def|class)\s+{name}\b|^{name}\s*[:=]"
    return re.search(pattern, module.read_text(encoding="utf-8"), re.MULTILINE) is not None


def link_targets(text: str) -> list[str]:
    targets = []
    for target in LINK_TARGET.findall(text):
        target = target.split("#")[0]
        if target and "://" not in target and not target.startswith(("/", "mailto:")):
            targets.append(target)
    return targets


def missing_paths(document: Path) -> list[str]:
    """The paths `document` names that are not in the repository, each once, in order."""
    text = document.read_text(encoding="utf-8")
    missing: list[str] = []

    def check(token: str, found: bool) -> None:
        if not found and token not in missing:
            missing.append(token)

    for target in link_targets(text):
        check(target, exists_beside(document, target))
    for token in PATH_TOKEN.findall(LINK_TARGET.sub("]", text)):
        token = token.rstrip(".")
        first = token.split("/")[0]
        if "/" in token and first in top_level_names():
            check(token, exists_beside(document, token))
        elif FILE_NAME.search(token):
            check(token, exists_beside(document, token) or names_a_repository_file(token))
        elif (DOTTED_MODULE.match(token) and token.split(".")[0] in top_level_names()
              and token not in KINDS):
            check(token, names_a_module_of_ours(token))
    return missing


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_path_the_document_names_exists(document: Path):
    missing = missing_paths(document)
    assert not missing, (f"{document.relative_to(ROOT).as_posix()} names paths that do not exist: "
                         + ", ".join(missing))


def test_a_path_that_does_not_exist_is_caught(tmp_path: Path):
    planted = tmp_path / "planted.md"
    planted.write_text("See `integration/flows/orders.py`, `order_rules.py`, [x](nowhere.md),"
                       " `integration.flows.orders`, `integration.tasks.no_such_task`,"
                       " `integration.tasks.reconcile` and `integration/orders/rules.py`.\n")
    assert missing_paths(planted) == ["nowhere.md", "integration/flows/orders.py", "order_rules.py",
                                      "integration.flows.orders", "integration.tasks.no_such_task"]
