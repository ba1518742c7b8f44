"""Fixtures of the front tests: the real back and the front's rendered nginx on free ports, and
Debian's Chromium driven by playwright."""

from __future__ import annotations

import shutil

import pytest

from harness import REPO, STUDENTS_PREFIX, Back, Front, Stack, new_workdir, start_stack

ARTIFACTS = REPO / ".cache" / "artifacts" / "front"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def workdir():
    path = new_workdir("front")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_stack(workdir):
    """Starts a back and a front proxying to it; the back allows the front's origin (CORS)."""
    started: list[Stack] = []

    def make(back_env: dict[str, str | None] | None = None, **front_env: str) -> Stack:
        started.append(start_stack(workdir, len(started), back_env, **front_env))
        return started[-1]

    yield make
    for stack in started:
        stack.stop()


@pytest.fixture
def stack(make_stack) -> Stack:
    return make_stack()


@pytest.fixture
def cross_origin_stack(workdir) -> Stack:
    """A front whose config.js points the page straight at a back on another port, which allows
    the front's origin (CORS)."""
    front = Front(workdir / "cors-front")
    back = Back(workdir / "cors-back", cors_allow_origin=front.origin).start()
    front.env_overrides.update(
        BACK_URL="http://127.0.0.1:9",  # the front's proxy is not what the page uses here
        STORY_URL=f"{back.url}/racontemoiunehistoire",
        STUDENTS_API_URL=f"{back.url}{STUDENTS_PREFIX}",
    )
    try:
        front.start()
        yield Stack(back, front)
    finally:
        front.stop()
        back.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # The machine is shared with builds: give assertions on the page more than the default 5 s.
    expect.set_options(timeout=10000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class ConsoleLog:
    """What the page logged as errors, and the JavaScript exceptions it raised."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def unexpected(self, allow_failed_requests: bool = False) -> list[str]:
        """The errors; with allow_failed_requests, less the browser's own "Failed to load resource"
        lines, which a page that shows an error state on purpose (back down, wrong password)
        makes the browser log for the failed request."""
        return [
            text
            for text in self.errors
            if not (allow_failed_requests and text.startswith("Failed to load resource"))
        ]


@pytest.fixture
def open_page(browser):
    """Opens a page in a fresh browser context; returns (page, console log)."""
    contexts = []

    def open_(url: str, viewport: dict = DESKTOP):
        context = browser.new_context(viewport=viewport, locale="fr-FR")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10000)
        console = ConsoleLog(page)
        page.goto(url)
        return page, console

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
