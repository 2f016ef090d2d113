"""The notes outliner on the meeting page in a real browser (Debian's chromium driven by Playwright):
two people typing into the same bullet at once, keyboard outlining, offline edits, presence,
read-only readers, and no script errors or CSP violations anywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from conftest import Person, make_meeting, wait_until
from test_browser import CHROMIUM, TIMEOUT_MS, browser  # noqa: F401  (the module-scoped browser fixture)
from test_browser import Tab as BaseTab

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM}")

# Records CSP violations on the page (and exposes the live connection as a test aid, see board.js).
INIT_SCRIPT = """
window.__hourglassTest = true;
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""

# The text of a bullet as the page shows it: the textarea's while it is edited, else the span's
# without the others' caret names.
TEXT_OF_JS = """
  const textOf = (li) => {
    const ta = li.querySelector(":scope > .editor textarea");
    if (ta) return ta.value;
    const span = li.querySelector(":scope > .text");
    let out = "";
    const walker = document.createTreeWalker(span, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) if (!t.parentElement.closest(".remote-caret")) out += t.data;
    return out;
  };
"""

# The outline as the page shows it: [section, depth, text] for every bullet in reading order.
OUTLINE_JS = "() => {" + TEXT_OF_JS + """
  const rows = [];
  const walk = (ul, section, depth) => {
    for (const li of ul.querySelectorAll(":scope > li[data-bullet]")) {
      rows.push([section, depth, textOf(li)]);
      const kids = li.querySelector(":scope > ul.bullets");
      if (kids) walk(kids, section, depth + 1);
    }
  };
  for (const section of document.querySelectorAll("#notes-body > section.notes-section")) {
    const ul = section.querySelector(":scope > ul.bullets");
    if (ul) walk(ul, section.dataset.section, 0);
  }
  return rows;
}"""

BULLET_ID_JS = "(text) => {" + TEXT_OF_JS + """
  for (const li of document.querySelectorAll("#notes li[data-bullet]")) if (textOf(li) === text) return li.dataset.bullet;
  return null;
}"""

expect.set_options(timeout=TIMEOUT_MS)


class Tab(BaseTab):
    """One person's browser context, recording CSP violations too (see INIT_SCRIPT)."""

    def __init__(self, browser: Browser, server, label: str, viewport=None):
        super().__init__(browser, server, label, viewport=viewport, init_script=INIT_SCRIPT)

    def wait_notes(self, editable: bool = True) -> None:
        """The socket is live and the notes snapshot is rendered."""
        expect(self.page.locator("#connection")).to_have_attribute("data-state", "live")
        expect(self.page.locator("#notes")).to_have_attribute("data-state", "ready")
        if editable:
            expect(self.page.locator("#notes button.add-bullet").first).to_be_visible()

    def outline(self) -> list[list]:
        return self.page.evaluate(OUTLINE_JS)

    def texts(self) -> list[str]:
        return [row[2] for row in self.outline()]

    def shape(self) -> list[tuple[int, str]]:
        return [(row[1], row[2]) for row in self.outline()]

    def editor(self):
        return self.page.locator("#notes .editor textarea")

    def bullet_id(self, text: str) -> str | None:
        """The id of the bullet whose own text is `text` (the others' caret names not counted)."""
        return self.page.evaluate(BULLET_ID_JS, text)

    def bullet(self, text: str):
        """The bullet (li) whose own text is `text`, waiting for it to appear."""
        try:
            bid = wait_until(lambda: self.bullet_id(text), timeout=15)
        except AssertionError:
            raise AssertionError(f"{self.label} shows no bullet {text!r}: {self.texts()!r}") from None
        return self.page.locator(f"#notes li[id='bullet-{bid}']")

    def add_bullet(self, section_label: str = "Meeting notes") -> None:
        self.page.get_by_role("button", name=f"Add a bullet to {section_label}").click()
        expect(self.editor()).to_be_focused()

    def pending(self) -> int:
        return self.page.evaluate("() => window.__hourglassNotes?.client.pending ?? -1")

    def assert_clean(self) -> None:
        violations = self.page.evaluate("() => window.__cspViolations")
        assert not violations, f"{self.label}: CSP violations {violations}"
        assert not self.problems, f"{self.label}: {self.problems}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tabs(browser, server):
    opened: list[Tab] = []

    def open_tab(label: str, **kwargs) -> Tab:
        tab = Tab(browser, server, label, **kwargs)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()


def eventually(predicate, describe) -> None:
    """Waits for `predicate`; on timeout the failure shows `describe()` as it was at the end."""
    try:
        wait_until(predicate, timeout=15)
    except AssertionError:
        raise AssertionError(f"timed out; last state: {describe()}") from None


def stored_notes(person: Person, meeting) -> dict:
    return person.client.api("GET", f"{meeting.api}/notes", expect=200)


def stored_tree(notes: dict) -> dict[str, list]:
    """parent id → [(text, id)] of the live bullets in sibling order."""
    tree: dict[str, list] = {}
    live = [b for b in notes["bullets"] if not b["deleted"]]
    for b in sorted(live, key=lambda b: (b["order"], b["id"])):
        tree.setdefault(b["parent"], []).append((b["text"], b["id"]))
    return tree


def stored_shape(notes: dict, section: str = "meeting") -> list[tuple[int, str]]:
    tree = stored_tree(notes)
    rows: list[tuple[int, str]] = []

    def walk(parent: str, depth: int) -> None:
        for text, bid in tree.get(parent, []):
            rows.append((depth, text))
            walk(bid, depth + 1)

    walk(section, 0)
    return rows


# --------------------------------------------------------------------------------------------

def test_two_people_type_into_the_same_bullet(server, admin, make_user, tabs, artifacts_dir):
    meeting = make_meeting(admin)
    admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "quest", "title": "Retro format"}, expect=200)
    alice = make_user("Alice Notes")
    bob = make_user("Bob Notes")
    a = tabs("alice")
    b = tabs("bob")
    a.sign_in(alice, meeting.page)
    b.sign_in(bob, meeting.page)
    a.wait_notes()
    b.wait_notes()
    b.page.evaluate("window.__hourglassNoReload = true")

    # Sections: the meeting's, then the topic's, with its heading from the board.
    expect(a.page.locator("#notes-body > section.notes-section")).to_have_count(2)
    expect(a.page.locator("#notes-body > section.notes-section").nth(1).locator("h3")).to_have_text(
        "[quest] Retro format (Ada Admin)")

    # Alice adds a bullet and types; Bob sees it live.
    a.add_bullet()
    a.page.keyboard.type("Decisions: ", delay=5)
    expect(b.bullet("Decisions: ")).to_have_count(1)

    # Bob starts editing the same bullet (at its end); Alice goes to its start.
    b.bullet("Decisions: ").locator(":scope > .text").click()
    expect(b.editor()).to_be_focused()
    b.page.keyboard.press("End")
    a.page.keyboard.press("Home")

    # Both see the other's caret with their name on the bullet.
    expect(a.page.locator("#notes li.editing .remote-caret .caret-name")).to_have_text("Bob Notes")
    expect(b.page.locator("#notes li.editing .remote-caret .caret-name")).to_have_text("Alice Notes")

    # Both type 30 characters at the same time, in small interleaved bursts (neither waits for the other).
    a_text = "alpha-one two three four five "
    b_text = "BRAVO SIX SEVEN EIGHT NINE TEN"
    assert len(a_text) == len(b_text) == 30
    for i in range(0, 30, 3):
        a.page.keyboard.type(a_text[i:i + 3], delay=7)
        b.page.keyboard.type(b_text[i:i + 3], delay=7)
    expected = a_text + "Decisions: " + b_text

    eventually(lambda: a.texts() == [expected] and b.texts() == [expected],
               lambda: f"both pages to show {expected!r} (alice {a.texts()!r}, bob {b.texts()!r})")
    expect(a.editor()).to_have_value(expected)
    expect(b.editor()).to_have_value(expected)
    # The carets are where each person typed: Alice's after her text, Bob's at the end.
    assert a.editor().evaluate("t => [t.selectionStart, t.selectionEnd]") == [30, 30]
    assert b.editor().evaluate("t => [t.selectionStart, t.selectionEnd]") == [len(expected)] * 2

    # The server stored the same text.
    wait_until(lambda: stored_shape(stored_notes(alice, meeting)) == [(0, expected)], message="the stored notes to match")
    wait_until(lambda: a.pending() == 0 and b.pending() == 0, message="nothing left unsaved")

    # Presence: each sees the other's named caret on that bullet, at the other's place.
    expect(a.page.locator("#notes li.editing .remote-caret .caret-name")).to_have_text("Bob Notes")
    expect(b.page.locator("#notes li.editing .remote-caret .caret-name")).to_have_text("Alice Notes")
    a.page.locator("#notes").screenshot(path=str(artifacts_dir / "notes-presence.png"))

    # When Bob stops editing, his marker goes away on Alice's page.
    b.page.keyboard.press("Escape")
    expect(b.editor()).to_have_count(0)
    expect(a.page.locator("#notes .remote-caret")).to_have_count(0)

    # The topic section can be written to as well, and the heading follows the board live.
    a.page.keyboard.press("Escape")
    a.add_bullet("[quest] Retro format (Ada Admin)")
    a.page.keyboard.type("Try the sailboat", delay=5)
    topic_section = b.page.locator("#notes-body > section.notes-section").nth(1).get_attribute("data-section")
    eventually(lambda: [row for row in b.outline() if row[0] == topic_section] == [[topic_section, 0, "Try the sailboat"]],
               lambda: f"bob to see the topic's bullet ({b.outline()!r})")
    admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": "Newer topic"}, expect=200)
    expect(b.page.locator("#notes-body > section.notes-section")).to_have_count(3)
    expect(b.page.locator("#notes-body > section.notes-section").nth(2).locator("h3")).to_have_text(
        "[inform] Newer topic (Ada Admin)")
    expect(a.editor()).to_be_focused()  # a board update does not disturb the editor
    assert b.page.evaluate("window.__hourglassNoReload === true"), "bob's page reloaded"
    for tab in (a, b):
        tab.assert_clean()


def test_keyboard_outlining(server, admin, make_user, tabs, artifacts_dir):
    meeting = make_meeting(admin)
    person = make_user("Kim Keys")
    t = tabs("keys")
    t.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    t.sign_in(person, meeting.page)
    t.wait_notes()
    page = t.page
    kb = page.keyboard

    # Reach "Add a bullet" with the keyboard only.
    page.locator("#notes-title .download").focus()
    for _ in range(10):
        kb.press("Tab")
        if page.evaluate("() => document.activeElement?.classList.contains('add-bullet')"):
            break
    assert page.evaluate("() => document.activeElement?.getAttribute('aria-label')") == "Add a bullet to Meeting notes"
    kb.press("Enter")
    expect(t.editor()).to_be_focused()

    kb.type("First")
    kb.press("Enter")
    kb.type("Second")
    kb.press("Tab")  # indent under First
    kb.press("Enter")
    kb.type("Third")
    kb.press("Shift+Tab")  # back to the top level
    assert t.shape() == [(0, "First"), (1, "Second"), (0, "Third")]
    expect(t.editor()).to_be_focused()
    assert t.editor().evaluate("t => t.selectionStart") == 5

    # Enter splits at the caret; Backspace at the start merges back.
    kb.press("ArrowLeft")
    kb.press("ArrowLeft")
    kb.press("Enter")
    assert t.shape() == [(0, "First"), (1, "Second"), (0, "Thi"), (0, "rd")]
    kb.press("Backspace")
    assert t.shape() == [(0, "First"), (1, "Second"), (0, "Third")]
    assert t.editor().evaluate("t => [t.value, t.selectionStart]") == ["Third", 3]

    # Backspace on an empty bullet deletes it and goes back to the previous one.
    kb.press("End")
    kb.press("Enter")
    assert t.shape() == [(0, "First"), (1, "Second"), (0, "Third"), (0, "")]
    kb.press("Backspace")
    assert t.shape() == [(0, "First"), (1, "Second"), (0, "Third")]
    expect(t.editor()).to_have_value("Third")

    # ↑ and ↓ move between bullets in reading order.
    kb.press("ArrowUp")
    expect(t.editor()).to_have_value("Second")
    kb.press("ArrowUp")
    expect(t.editor()).to_have_value("First")
    kb.press("ArrowDown")
    kb.press("ArrowDown")
    expect(t.editor()).to_have_value("Third")

    # Pasting three lines into a new bullet makes three bullets.
    kb.press("End")
    kb.press("Enter")
    page.evaluate("() => navigator.clipboard.writeText('alpha\\nbeta\\ngamma\\n')")
    kb.press("Control+V")
    assert t.shape() == [(0, "First"), (1, "Second"), (0, "Third"), (0, "alpha"), (0, "beta"), (0, "gamma")]
    expect(t.editor()).to_have_value("gamma")

    # Undo takes the paste back (one step), redo brings it again; typing is undone as well.
    kb.press("Control+Z")
    assert t.shape() == [(0, "First"), (1, "Second"), (0, "Third"), (0, "")]
    kb.press("Control+Shift+Z")
    assert t.shape() == [(0, "First"), (1, "Second"), (0, "Third"), (0, "alpha"), (0, "beta"), (0, "gamma")]
    kb.type("!")
    expect(t.editor()).to_have_value("gamma!")
    kb.press("Control+Z")
    expect(t.editor()).to_have_value("gamma")
    kb.press("Control+Y")
    expect(t.editor()).to_have_value("gamma!")
    kb.press("Tab")  # gamma! under beta
    kb.press("Control+Z")
    assert t.shape()[-1] == (0, "gamma!")
    kb.press("Control+Y")
    assert t.shape()[-2:] == [(0, "beta"), (1, "gamma!")]

    # Escape stops editing and leaves the focus on the bullet; Enter edits it again.
    kb.press("Escape")
    expect(t.editor()).to_have_count(0)
    assert page.evaluate("() => document.activeElement?.closest('li')?.querySelector('.text')?.textContent") == "gamma!"
    kb.press("Enter")
    expect(t.editor()).to_have_value("gamma!")
    kb.press("Escape")

    expected = [(0, "First"), (1, "Second"), (0, "Third"), (0, "alpha"), (0, "beta"), (1, "gamma!")]
    assert t.shape() == expected
    wait_until(lambda: stored_shape(stored_notes(person, meeting)) == expected, message="the stored outline")
    markdown = person.client.get(f"{meeting.page}/notes.md")
    assert markdown.status == 200, markdown
    assert "\n\n- First\n  - Second\n- Third\n- alpha\n- beta\n  - gamma!\n" in markdown.text, markdown.text

    # After a reload the outline is the same (rendered by the server, then by the client).
    page.reload()
    t.wait_notes()
    assert t.shape() == expected
    page.locator("#notes").screenshot(path=str(artifacts_dir / "notes-outline.png"))
    t.assert_clean()


def test_offline_edits_reach_the_others_after_reconnecting(server, admin, make_user, tabs, artifacts_dir):
    meeting = make_meeting(admin)
    alice = make_user("Olivia Offline")
    bob = make_user("Oscar Online")
    a = tabs("offline")
    b = tabs("online")
    a.sign_in(alice, meeting.page)
    b.sign_in(bob, meeting.page)
    a.wait_notes()
    b.wait_notes()

    a.add_bullet()
    a.page.keyboard.type("Before the outage")
    expect(b.bullet("Before the outage")).to_have_count(1)
    wait_until(lambda: a.pending() == 0, message="alice's bullet to be saved")

    # Cut Alice off. Chromium's offline emulation refuses new connections but leaves an open
    # WebSocket alone (checked: it stays open), so her socket is also closed through the test hook.
    a.context.set_offline(True)
    assert a.page.evaluate("() => window.__hourglassLive.socket.readyState") == 1
    a.page.evaluate("() => window.__hourglassLive.socket.close()")
    expect(a.page.locator("#connection")).to_have_attribute("data-state", re.compile("offline|reconnecting"))

    # She keeps editing: typing, a new bullet, an indent.
    a.page.keyboard.type(", typed offline")
    a.page.keyboard.press("Enter")
    a.page.keyboard.type("Written without a network")
    a.page.keyboard.press("Tab")
    assert a.shape() == [(0, "Before the outage, typed offline"), (1, "Written without a network")]
    expect(a.page.locator("#notes .notes-status")).to_contain_text("unsaved change")
    assert a.pending() > 0
    a.page.locator("#notes").screenshot(path=str(artifacts_dir / "notes-offline.png"))
    # Meanwhile Bob sees none of it, and types himself.
    assert b.shape() == [(0, "Before the outage")]
    b.bullet("Before the outage").locator(":scope > .text").click()
    b.page.keyboard.press("Home")
    b.page.keyboard.type(">> ")

    # Back online: everything arrives, merged.
    a.context.set_offline(False)
    expect(a.page.locator("#connection")).to_have_attribute("data-state", "live", timeout=30_000)
    expected = [(0, ">> Before the outage, typed offline"), (1, "Written without a network")]
    eventually(lambda: a.shape() == expected and b.shape() == expected,
               lambda: f"both pages to converge (alice {a.shape()!r}, bob {b.shape()!r})")
    wait_until(lambda: stored_shape(stored_notes(bob, meeting)) == expected, message="the stored notes")
    wait_until(lambda: a.pending() == 0, message="alice's queue to empty")
    expect(a.page.locator("#notes .notes-status")).to_have_text("")
    # The browser itself logs each refused reconnect while offline; nothing else may be logged.
    a.problems = [p for p in a.problems if "net::ERR_INTERNET_DISCONNECTED" not in p]
    for tab in (a, b):
        tab.assert_clean()


def test_readers_see_a_live_read_only_outline(server, admin, make_user, tabs, artifacts_dir):
    meeting = make_meeting(admin)
    writer = tabs("writer")
    writer.sign_in(make_user("Wanda Writer"), meeting.page)
    writer.wait_notes()
    reader = tabs("reader", viewport={"width": 390, "height": 800})  # signed out, phone-sized
    response = reader.page.goto(meeting.page)
    # The page runs under a CSP without inline script or style (so "no violations" means something).
    policy = response.header_value("content-security-policy") or ""
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, policy
    reader.wait_notes(editable=False)
    assert reader.page.locator("#notes").get_attribute("data-can-edit") == "false"

    writer.add_bullet()
    writer.page.keyboard.type("Minutes: see https://example.com/minutes for details")
    writer.page.keyboard.press("Enter")
    writer.page.keyboard.type("A child")
    writer.page.keyboard.press("Tab")
    expected = [(0, "Minutes: see https://example.com/minutes for details"), (1, "A child")]
    eventually(lambda: reader.shape() == expected, lambda: f"the reader to see the outline ({reader.shape()!r})")
    link = reader.page.locator("#notes li .text a")
    expect(link).to_have_attribute("href", "https://example.com/minutes")

    # No editing affordances: no buttons, no focusable bullets, clicking does not edit.
    expect(reader.page.locator("#notes button.add-bullet:visible")).to_have_count(0)
    expect(reader.page.locator("#notes .notes-help")).to_have_count(0)
    expect(reader.page.locator("#notes .text[tabindex]")).to_have_count(0)
    reader.page.locator("#notes li .text").last.click()
    expect(reader.page.locator("#notes textarea")).to_have_count(0)
    # Readers see where the writer is editing.
    expect(reader.page.locator("#notes .remote-caret .caret-name")).to_have_text("Wanda Writer")
    reader.page.screenshot(path=str(artifacts_dir / "notes-reader-phone.png"), full_page=True)
    for tab in (writer, reader):
        tab.assert_clean()


def test_the_bullet_being_edited_keeps_focus_when_others_restructure(server, admin, make_user, tabs):
    meeting = make_meeting(admin)
    a = tabs("editor")
    b = tabs("restructurer")
    a.sign_in(make_user("Eve Editor"), meeting.page)
    b.sign_in(make_user("Rex Restructure"), meeting.page)
    a.wait_notes()
    b.wait_notes()

    a.add_bullet()
    for i, word in enumerate(["one", "two", "three", "four"]):
        if i:
            a.page.keyboard.press("Enter")
        a.page.keyboard.type(word)
    wait_until(lambda: b.texts() == ["one", "two", "three", "four"], message="bob to see the bullets")
    # Alice edits "three" with the caret after "th".
    a.page.keyboard.press("ArrowUp")
    a.page.keyboard.press("Home")
    a.page.keyboard.press("ArrowRight")
    a.page.keyboard.press("ArrowRight")
    expect(a.editor()).to_have_value("three")

    # Bob indents "three" under "two", then deletes "two" and moves "four" above "one".
    b.bullet("three").locator(":scope > .text").click()
    b.page.keyboard.press("Tab")
    eventually(lambda: a.shape() == [(0, "one"), (0, "two"), (1, "three"), (0, "four")], lambda: f"the indent ({a.shape()!r})")
    expect(a.editor()).to_be_focused()
    assert a.editor().evaluate("t => [t.value, t.selectionStart, t.selectionEnd]") == ["three", 2, 2]
    b.page.keyboard.press("Escape")
    b.bullet("four").locator(":scope > .text").click()
    b.page.keyboard.press("Alt+Shift+ArrowUp")
    b.page.keyboard.press("Alt+Shift+ArrowUp")
    b.page.keyboard.press("Alt+Shift+ArrowUp")
    eventually(lambda: a.texts() == ["four", "one", "two", "three"], lambda: f"the move ({a.texts()!r})")
    b.page.keyboard.press("ArrowDown")
    b.page.keyboard.press("ArrowDown")
    expect(b.editor()).to_have_value("two")
    b.page.keyboard.press("Control+A")
    b.page.keyboard.press("Backspace")
    b.page.keyboard.press("Backspace")  # empty: deleted; "three" moves up to the top level
    eventually(lambda: a.shape() == [(0, "four"), (0, "one"), (0, "three")], lambda: f"the delete ({a.shape()!r})")
    expect(a.editor()).to_be_focused()
    assert a.editor().evaluate("t => [t.value, t.selectionStart, t.selectionEnd]") == ["three", 2, 2]

    # Alice never stopped: her typing lands where her caret is.
    a.page.keyboard.type("XY")
    expected = [(0, "four"), (0, "one"), (0, "thXYree")]
    eventually(lambda: a.shape() == expected and b.shape() == expected, lambda: f"convergence ({a.shape()!r} / {b.shape()!r})")

    # When Bob deletes the very bullet Alice edits, her focus goes to the bullet above it.
    b.page.keyboard.press("Escape")
    b.bullet("thXYree").locator(":scope > .text").click()
    b.page.keyboard.press("Control+A")
    b.page.keyboard.press("Backspace")
    b.page.keyboard.press("Backspace")
    eventually(lambda: a.texts() == ["four", "one"], lambda: f"the delete ({a.texts()!r})")
    expect(a.editor()).to_have_count(0)
    assert a.page.evaluate("() => document.activeElement?.closest('li')?.dataset.bullet") == a.bullet_id("one")
    assert a.page.evaluate("() => document.activeElement?.classList.contains('text')")
    for tab in (a, b):
        tab.assert_clean()


def test_ctrl_enter_makes_an_action_item_listed_on_the_space_page(server, admin, make_user, tabs, artifacts_dir):
    meeting = make_meeting(admin)
    person = make_user("Ana Action")
    t = tabs("actions")
    t.sign_in(person, meeting.page)
    t.wait_notes()
    page, kb = t.page, t.page.keyboard
    t.add_bullet()
    kb.type("@ana.action write the ADR due 2031-05-01")
    kb.press("Control+Enter")
    expect(t.editor()).to_have_value("[todo] @ana.action write the ADR due 2031-05-01")
    kb.press("Escape")
    item = t.bullet("[todo] @ana.action write the ADR due 2031-05-01")
    expect(item).to_have_class(re.compile(r"\baction\b.*\bopen\b"))
    wait_until(lambda: "write the ADR" in person.client.get(f"/s/{meeting.space}").text, message="the space page's action list")
    page.locator("#notes").screenshot(path=str(artifacts_dir / "notes-action-item.png"))

    # Ctrl+Enter again closes it ([done]), a third time makes it a plain bullet.
    item.locator(".text").click()
    expect(t.editor()).to_be_focused()
    kb.press("Control+Enter")
    expect(t.editor()).to_have_value("[done] @ana.action write the ADR due 2031-05-01")
    kb.press("Control+Enter")
    expect(t.editor()).to_have_value("@ana.action write the ADR due 2031-05-01")
    kb.press("Control+Enter")
    kb.press("Control+Enter")
    kb.press("Escape")
    expect(t.bullet("[done] @ana.action write the ADR due 2031-05-01")).to_have_class(re.compile(r"\bdone\b"))
    # The server has the last state once the person page lists the item as done (the open list empties earlier,
    # while the plain intermediate state is stored).
    wait_until(lambda: "Done (1)" in person.client.get(f"/s/{meeting.space}/people/Ana%20Action").text, message="the done item")
    assert "write the ADR" not in person.client.get(f"/s/{meeting.space}").text
    t.assert_clean()


def test_comments_appear_live_and_the_inbox_count_follows(server, admin, make_user, tabs, artifacts_dir):
    meeting = make_meeting(admin)
    ann, bo = make_user("Ann Asker"), make_user("Bo Replier")
    # Ann proposes the topic, so she watches it.
    topic = ann.client.api("POST", meeting.commands, {"type": "propose", "tag": "quest", "title": "Live comments?"}, expect=200)["board"]["topics"][0]["id"]
    path = f"/s/{meeting.space}/topics/{topic.lower()}"
    a, b = tabs("ann"), tabs("bo")
    a.sign_in(ann, path)
    b.sign_in(bo, path)
    expect(a.page.locator("#inbox-link [data-unread]")).to_be_hidden()
    b.page.locator("#comments textarea[name=body]").last.fill("Yes, and <b>safely</b> @ann.asker")
    with b.page.expect_navigation():
        b.page.locator("#comments .comment-form button[type=submit]").click()
    expect(b.page.locator("#comments li.comment .body")).to_have_text("Yes, and <b>safely</b> @ann.asker")
    # Ann's open page shows it without a reload, and her unread count appears.
    expect(a.page.locator("#comments li.comment .body")).to_have_text("Yes, and <b>safely</b> @ann.asker", timeout=15_000)
    expect(a.page.locator("#inbox-link [data-unread]")).to_have_text("1", timeout=20_000)
    a.page.screenshot(path=str(artifacts_dir / "comments-live.png"))
    a.page.locator("#inbox-link").click()
    expect(a.page.locator("ol.inbox li.unread a")).to_contain_text("Bo Replier commented on “Live comments?”")
    with a.page.expect_navigation():
        a.page.locator("ol.inbox li.unread a").first.click()
    assert a.page.url.endswith("#comment-" + a.page.url.split("#comment-")[1])
    expect(a.page.locator("li.comment:target")).to_have_count(1)
    a.assert_clean()
    b.assert_clean()
