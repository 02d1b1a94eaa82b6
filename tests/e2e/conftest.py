"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium, never a downloaded
browser), one browser for the whole session, a fresh context (cookies) per login.

``login_as(group)`` signs a user of that group in through the real login page and returns the
page, at 1440x900. Tests here run against pytest-django's ``live_server`` (a real HTTP server
in a thread) with a transactional database, so the server sees what the test writes.

``screenshot(page, name)`` saves a picture of the page in a scratch folder, so a test run leaves
the checkout as it was; ``make screenshots`` sets ``SCREENSHOT_DIR`` to docs/screenshots to
refresh the pictures the README, the operations manual and /help/ show.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# PITFALLS.md: no sandbox (root in CI), no GPU, nothing that phones home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 900}

# Playwright's sync API runs an event loop in this thread; the ORM must be allowed to run beside it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: `apt-get install -y chromium` (make test does it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def password_for(group: str) -> str:
    return f"{group}-e2e-password"


@pytest.fixture
def login_as(browser: Browser, live_server, transactional_db) -> Iterator[Callable[[str], Page]]:
    """``login_as("ops")`` -> a Page signed in as a user in that group (created if needed)."""
    contexts: list[BrowserContext] = []

    def login(group: str) -> Page:
        username = f"{group}-user"
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password_for(group))
        user.save()
        user.groups.add(Group.objects.get_or_create(name=group)[0])
        context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password_for(group))
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield login
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$SCREENSHOT_DIR when set (``make screenshots``: docs/screenshots), else a scratch folder
    under pytest's temporary directory, outside the repository."""
    chosen = os.environ.get("SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class SaveScreenshot(Protocol):
    def __call__(self, page: Page, name: str, *, full_page: bool = False) -> Path: ...


@pytest.fixture
def screenshot(screenshot_dir: Path) -> SaveScreenshot:
    """Save the page as <screenshot_dir>/<name>.png: the viewport, or the whole page."""

    def save(page: Page, name: str, *, full_page: bool = False) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save
