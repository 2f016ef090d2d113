"""The meeting page in a real browser: Debian's chromium driven by Playwright (never downloaded)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from conftest import Person, make_meeting, wait_until

CHROMIUM = os.environ.get("HOURGLASS_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            yield instance
        finally:
            instance.close()


class Tab:
    """A browser context for one person with the problems it ran into (script errors, CSP reports)."""

    def __init__(self, browser: Browser, server, label: str, javascript: bool = True, viewport=None, init_script: str | None = None):
        self.label = label
        self.context: BrowserContext = browser.new_context(base_url=server.base_url, java_script_enabled=javascript,
                                                           viewport=viewport or {"width": 1100, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        if init_script:
            self.context.add_init_script(init_script)
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", lambda message: message.type == "error" and self.problems.append(f"console: {message.text}"))

    def sign_in(self, person: Person, next_path: str) -> None:
        page = self.page
        page.goto(f"/signin?next={next_path}")
        form = page.locator("form[action='/signin']")
        form.locator("input[name=email]").fill(person.email)
        form.locator("input[name=password]").fill(person.password)
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert page.url.endswith(next_path), f"{self.label}: signed in to {page.url}, expected {next_path}"

    def wait_live(self) -> None:
        expect(self.page.locator("#connection")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)

    def topic(self, title: str):
        return self.page.locator("#board li.topic").filter(has=self.page.locator(".title", has_text=title))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tabs(browser, server):
    opened: list[Tab] = []

    def open_tab(label: str, javascript: bool = True) -> Tab:
        tab = Tab(browser, server, label, javascript)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()


def seconds_left(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+):(\d{2})\s*", text or "")
    assert match, f"not a countdown: {text!r}"
    return int(match.group(1)) * 60 + int(match.group(2))


def assert_ticking_down(tab: Tab) -> None:
    countdown = tab.page.locator("#clock .countdown")
    expect(countdown).to_be_visible()
    first = seconds_left(countdown.text_content())
    assert 0 < first <= 10 * 60, first
    wait_until(lambda: seconds_left(countdown.text_content()) < first, timeout=15,
               message=f"{tab.label}'s countdown to go below {first}s")


# --------------------------------------------------------------------------------------------

def test_live_board_in_two_browsers(server, admin, make_user, tabs, artifacts_dir):
    meeting = make_meeting(admin)
    alice = make_user("Alice Browser")
    title = "Should we adopt trunk-based development?"

    a = tabs("alice")
    b = tabs("admin")
    a.sign_in(alice, meeting.page)
    b.sign_in(admin, meeting.page)
    a.wait_live()
    b.wait_live()
    b.page.evaluate("window.__hourglassNoReload = true")

    # Alice proposes through the form; it goes over the WebSocket.
    propose = a.page.locator("form[data-command]").filter(has=a.page.locator("input[name=type][value=propose]"))
    propose.locator("select[name=tag]").select_option("ideation")
    propose.locator("input[name=title]").fill(title)
    propose.get_by_role("button", name="Propose").click()
    expect(a.topic(title)).to_have_count(1)
    expect(propose.locator("input[name=title]")).to_have_value("")

    # Bob-the-admin sees it appear without a reload.
    expect(b.topic(title)).to_have_count(1)
    expect(b.topic(title).locator(".title")).to_contain_text("[ideation]")
    expect(b.topic(title).locator(".votes")).to_have_text("0")

    # Alice votes; the count changes on both pages.
    a.page.get_by_role("button", name=f"Vote for {title}").click()
    expect(a.topic(title).locator(".votes")).to_have_text("1")
    expect(a.topic(title).locator(".mine")).to_contain_text("1")
    expect(b.topic(title).locator(".votes")).to_have_text("1")
    expect(a.page.locator("#board .meeting-status")).to_contain_text("You have 2 of 3 votes left")
    b.page.locator("#board").screenshot(path=str(artifacts_dir / "board.png"))

    # The facilitator starts the top topic; both clocks appear and tick down.
    b.page.get_by_role("button", name="Start next topic").click()
    expect(b.page.locator("#clock")).to_be_visible()
    expect(a.page.locator("#clock")).to_be_visible()
    expect(a.page.locator("#clock .current")).to_contain_text(title)
    assert_ticking_down(a)
    assert_ticking_down(b)
    deadlines = {tab.label: tab.page.locator("#clock").get_attribute("data-deadline") for tab in (a, b)}
    if all(deadlines.values()):
        assert deadlines["alice"] == deadlines["admin"], deadlines

    assert b.page.evaluate("window.__hourglassNoReload === true"), "the admin's page reloaded"
    b.page.locator("#board").screenshot(path=str(artifacts_dir / "board-clock.png"))
    a.page.screenshot(path=str(artifacts_dir / "meeting-alice.png"), full_page=True)
    assert (artifacts_dir / "board.png").stat().st_size > 0
    for tab in (a, b):
        assert not tab.problems, f"{tab.label}: {tab.problems}"


def test_escaped_titles_render_as_text_live(server, admin, make_user, tabs):
    meeting = make_meeting(admin)
    viewer = tabs("viewer")
    viewer.sign_in(make_user("Vic Viewer"), meeting.page)
    viewer.wait_live()
    viewer.page.evaluate("window.__pwned = false")
    title = '<img src=x onerror="window.__pwned = true">'
    admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": title}, expect=200)
    expect(viewer.topic("<img src=x")).to_have_count(1)
    expect(viewer.page.locator("#board img")).to_have_count(0)
    assert viewer.page.evaluate("window.__pwned") is False


def test_errors_from_live_commands_are_shown(server, admin, make_user, tabs):
    meeting = make_meeting(admin, votesPerParticipant="1", maxVotesPerTopic="1")
    for title in ("First topic", "Second topic"):
        admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": title}, expect=200)
    tab = tabs("voter")
    tab.sign_in(make_user("Val Budget"), meeting.page)
    tab.wait_live()
    tab.page.get_by_role("button", name="Vote for First topic").click()
    expect(tab.topic("First topic").locator(".votes")).to_have_text("1")
    tab.page.get_by_role("button", name="Vote for Second topic").click()
    expect(tab.page.locator(".notice")).to_contain_text("votes")
    expect(tab.topic("Second topic").locator(".votes")).to_have_text("0")


def test_works_without_javascript(server, admin, make_user, tabs, artifacts_dir):
    meeting = make_meeting(admin)
    person = make_user("Nora NoScript")
    tab = tabs("noscript", javascript=False)
    tab.sign_in(person, meeting.page)
    page = tab.page
    title = "Plain forms still work"

    propose = page.locator("form").filter(has=page.locator("input[name=type][value=propose]"))
    propose.locator("select[name=tag]").select_option("analysis")
    propose.locator("input[name=title]").fill(title)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/commands")) as posted:
        propose.get_by_role("button", name="Propose").click()
    assert posted.value.status == 303, posted.value.status
    assert posted.value.header_value("location") == meeting.page
    page.wait_for_load_state()
    assert page.url.endswith(meeting.page), page.url
    expect(tab.topic(title)).to_have_count(1)
    expect(tab.topic(title).locator(".votes")).to_have_text("0")

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/commands")) as posted:
        page.get_by_role("button", name=f"Vote for {title}").click()
    assert posted.value.status == 303, posted.value.status
    page.wait_for_load_state()
    assert re.search(re.escape(meeting.page) + r"#topic-[0-9A-Fa-f-]{36}$", page.url), page.url
    expect(tab.topic(title).locator(".votes")).to_have_text("1")
    expect(tab.topic(title).locator(".mine")).to_contain_text("1")

    # An error comes back as the page with a notice and what was typed, not as a redirect.
    propose = page.locator("form").filter(has=page.locator("input[name=type][value=propose]"))
    propose.locator("input[name=title]").fill("   ")
    propose.locator("textarea[name=description]").fill("typed text survives")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/commands")) as posted:
        propose.get_by_role("button", name="Propose").click()
    assert posted.value.status == 422, posted.value.status
    expect(page.locator(".notice")).to_contain_text("title")
    expect(page.locator("textarea[name=description]")).to_have_value("typed text survives")
    page.screenshot(path=str(artifacts_dir / "noscript.png"), full_page=True)

    # The vote is real: the API agrees.
    frame = person.client.api("GET", meeting.api, expect=200)
    assert [(t["title"], t["votes"]) for t in frame["board"]["topics"]] == [(title, 1)]
