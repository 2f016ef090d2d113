"""The archive end to end: `hourglass import` of the real corpus into a running server's SQLite file,
search, exports (Markdown/JSON round trips, Confluence, HTML, Atom, iCalendar), archive pages,
action items, access checks, and a real browser following a search result to its bullet."""

from __future__ import annotations

import datetime
import json
import os
import re
import urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO_ROOT, Person, run_cli, send_notes, sign_up, unique_slug, wait_until

CORPUS = REPO_ROOT / "Tests" / "fixtures" / "arch-hour-notes-2022-h2.txt"
ATOM = "{http://www.w3.org/2005/Atom}"


def import_file(server, path: Path, space: str, *extra: str):
    return run_cli("import", str(path), "--data-dir", str(server.data_dir), "--space", space, *extra)


def imported_space(server, admin: Person, visibility: str = "public") -> str:
    space = admin.client.create_space(visibility)["space"]["slug"]
    result = import_file(server, CORPUS, space, "--series", "Architecture Hour", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["meetings"] == 22 and summary["topics"] > 90 and summary["bullets"] > 200, summary
    return space


def body_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class Strict(HTMLParser):
    """Counts start tags, to check an HTML export parses and has the expected structure."""

    def __init__(self):
        super().__init__()
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1


@pytest.fixture(scope="module")
def corpus_space(server, admin) -> str:
    return imported_space(server, admin)


def test_importing_the_corpus_makes_meetings_that_search_finds(server, admin, corpus_space):
    space = corpus_space
    # Importing the same file again changes nothing.
    again = import_file(server, CORPUS, space, "--series", "Architecture Hour", "--json")
    assert again.returncode == 0, again.stderr
    assert sum(json.loads(again.stdout)["written"].values()) == 0, again.stdout
    plain = import_file(server, CORPUS, space, "--series", "Architecture Hour")
    assert "Nothing new" in plain.stdout, plain.stdout

    series = admin.client.api("GET", f"/api/spaces/{space}/series/architecture-hour", expect=200)
    dates = {m["date"]: m for m in series["meetings"]}
    assert {"2022-12-14", "2022-10-26", "2022-07-06"} <= set(dates), sorted(dates)
    assert dates["2022-10-26"]["status"] == "skipped"

    # Distinctive phrases from the corpus are found, linking to the exact topic or bullet.
    for query, date in [("Hacktoberfest", "2022-10-05"), ('"fitness functions"', "2022-08-17"), ("Cloudflare", "2022-11-30"),
                        ("utf8mb4", "2022-07-27"), ("OpenSearch", "2022-10-19")]:
        hits = admin.client.api("GET", f"/api/search?q={urllib.parse.quote(query)}&space={space}", expect=200)
        assert any(h["date"] == date for h in hits), (query, hits)
        assert all(re.search(r"#(topic|bullet)-", h["url"]) for h in hits), hits
    tagged = admin.client.api("GET", f"/api/search?q=Hacktoberfest&space={space}&tag=quest", expect=200)
    assert tagged and all(h["kind"] == "topic" for h in tagged), tagged

    # The meeting page shows the agenda with tags and proposers, and the notes.
    page = admin.client.get(f"/s/{space}/architecture-hour/2022-10-05")
    assert page.status == 200
    text = body_text(page.text)
    assert "Hacktoberfest - do we want to accept contributions this year?" in text
    assert "(Jeremy)" in text and "[quest]" in text
    assert "Easy way to get T-shirts for developers" in text


def test_import_errors_name_the_line_and_write_nothing(server, admin, tmp_path):
    space = admin.client.create_space("public")["space"]["slug"]
    bad = tmp_path / "bad.txt"
    bad.write_text("Preface\n2022-12-14\n[quest] (Ann) Fine topic\n2022-13-40\n[inform] (Bo) never stored\n")
    result = import_file(server, bad, space, "--series", "Broken")
    assert result.returncode != 0
    assert "line 4" in result.stderr and "2022-13-40 is not a calendar date" in result.stderr, result.stderr
    assert admin.client.get(f"/s/{space}/broken").status == 404  # not even the series was created

    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"2022-12-14\n[quest] ok\n\xff\xfe garbage\n")
    result = import_file(server, binary, space, "--series", "Broken")
    assert result.returncode != 0 and "line 3" in result.stderr and "UTF-8" in result.stderr, result.stderr

    missing = import_file(server, tmp_path / "nope.txt", space)
    assert missing.returncode != 0 and "Cannot read" in missing.stderr
    unknown = import_file(server, CORPUS, "no-such-space")
    assert unknown.returncode != 0 and "No space" in unknown.stderr


def test_markdown_and_json_exports_reimport_to_the_same_archive(server, admin, corpus_space, tmp_path):
    exported = admin.client.get(f"/s/{corpus_space}/architecture-hour/export?format=markdown")
    assert exported.status == 200 and "attachment" in (exported.header("Content-Disposition") or "")
    markdown = exported.text
    assert "## 2022-10-05" in markdown and "### [quest] (Jeremy) Hacktoberfest" in markdown

    # Markdown into a fresh space, exported again: the same document.
    copy = admin.client.create_space("public")["space"]["slug"]
    path = tmp_path / "export.md"
    path.write_text(markdown)
    result = import_file(server, path, copy, "--series", "Architecture Hour", "--json")
    assert result.returncode == 0, result.stderr
    again = admin.client.get(f"/s/{copy}/architecture-hour/export?format=markdown").text
    assert again == markdown

    # JSON (complete: ids, votes, op log) into another space, and into its own space (nothing new).
    data = admin.client.get(f"/s/{corpus_space}/export?format=json")
    assert data.status == 200 and data.header("Content-Type").startswith("application/json")
    document = data.json()
    assert document["format"] == "hourglass-export" and document["content"]["noteOps"], list(document)
    json_path = tmp_path / "export.json"
    json_path.write_text(data.text)
    third = admin.client.create_space("public")["space"]["slug"]
    assert import_file(server, json_path, third).returncode == 0
    assert admin.client.get(f"/s/{third}/architecture-hour/export?format=markdown").text == markdown
    same = import_file(server, json_path, corpus_space, "--json")
    assert same.returncode == 0 and sum(json.loads(same.stdout)["written"].values()) == 0, same.stdout

    # The command line exports the same Markdown as the page.
    cli = run_cli("export", "--data-dir", str(server.data_dir), "--space", corpus_space, "--series", "architecture-hour", "--format", "markdown")
    assert cli.returncode == 0 and cli.stdout == markdown
    bad = run_cli("export", "--data-dir", str(server.data_dir), "--space", corpus_space, "--format", "docx")
    assert bad.returncode != 0 and "Unknown format" in bad.stderr


def test_confluence_html_atom_and_calendar_exports_are_well_formed(server, admin, corpus_space):
    confluence = admin.client.get(f"/s/{corpus_space}/architecture-hour/export?format=confluence")
    assert confluence.status == 200
    # Storage format is XHTML: it must parse as XML (wrapped, since it is a fragment).
    root = ET.fromstring(f"<root>{confluence.text}</root>")
    assert len(root.findall("h2")) == 23 and root.findall(".//ul/li"), confluence.text[:300]
    assert not re.search(r"<script|on\w+=", confluence.text, re.I)

    html = admin.client.get(f"/s/{corpus_space}/architecture-hour/2022-10-05/export?format=html")
    assert html.status == 200 and html.text.startswith("<!DOCTYPE html>")
    parser = Strict()
    parser.feed(html.text)
    assert parser.tags.get("h2") == 1 and parser.tags.get("h3", 0) >= 6 and parser.tags.get("li", 0) >= 20, parser.tags

    feed = admin.client.get(f"/s/{corpus_space}/architecture-hour/feed.atom")
    assert feed.status == 200 and feed.header("Content-Type").startswith("application/atom+xml")
    atom = ET.fromstring(feed.text)
    assert atom.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert atom.find(f"{ATOM}{required}") is not None, required
    entries = atom.findall(f"{ATOM}entry")
    assert len(entries) == 23
    assert len({e.find(f"{ATOM}id").text for e in entries}) == 23
    for entry in entries:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.find(f"{ATOM}updated").text)
        link = entry.find(f"{ATOM}link").get("href")
        assert link.startswith(server.base_url + f"/s/{corpus_space}/architecture-hour/"), link
    space_feed = ET.fromstring(admin.client.get(f"/s/{corpus_space}/feed.atom").text)
    assert space_feed.find(f"{ATOM}id").text != atom.find(f"{ATOM}id").text

    calendar = admin.client.get(f"/s/{corpus_space}/architecture-hour/calendar.ics")
    assert calendar.status == 200 and calendar.header("Content-Type").startswith("text/calendar")
    lines = calendar.text.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert all(len(line.encode()) <= 75 for line in lines)
    events = calendar.text.count("BEGIN:VEVENT")
    assert events >= 23 + 11, events  # stored meetings plus the coming weeks
    assert "DTSTART:20221005T120000Z" in calendar.text
    assert "STATUS:CANCELLED" in calendar.text  # 2022-10-26 was skipped


def test_archive_pages_topic_history_people_and_paging(server, admin, corpus_space, tmp_path):
    space = corpus_space
    series = admin.client.get(f"/s/{space}/architecture-hour")
    assert series.status == 200
    assert re.search(r"2022-12-14.*?3 topics", body_text(series.text)), body_text(series.text)[:2000]
    assert "Skipped due to low attendance" in series.text

    # A topic page shows earlier topics like it.
    hits = admin.client.api("GET", f"/api/search?q=Hacktoberfest&space={space}", expect=200)
    topic_id = next(h["url"].split("#topic-")[1] for h in hits if "#topic-" in h["url"])
    topic = admin.client.get(f"/s/{space}/topics/{topic_id}")
    assert topic.status == 200 and "Topics like this" in topic.text
    assert 'href="/s/' + space + '/people/Jeremy"' in topic.text
    assert admin.client.get(f"/s/{space}/topics/{'0' * 8}-0000-4000-8000-{'0' * 12}").status == 404
    assert admin.client.get(f"/s/{space}/topics/not-a-topic").status == 404

    person = admin.client.get(f"/s/{space}/people/Jeremy")
    assert person.status == 200
    assert "Hacktoberfest - do we want to accept contributions this year?" in person.text
    assert admin.client.get(f"/s/{space}/people/Nobody%20At%20All").status == 404

    history = admin.client.get(f"/s/{space}/architecture-hour/2022-10-05/history")
    assert history.status == 200 and "Easy way to get T-shirts for developers" in history.text

    # Paging: 60 weekly meetings make three pages of 25.
    lines = ["# Paged", ""]
    for week in range(60):
        day = datetime.date(2010, 1, 6) + datetime.timedelta(weeks=week)
        lines += [f"## {day.isoformat()}", "", f"### [inform] (Pat) Weekly item {week}", ""]
    paged_file = tmp_path / "paged.md"
    paged_file.write_text("\n".join(lines))
    paged = admin.client.create_space("public")["space"]["slug"]
    result = import_file(server, paged_file, paged, "--series", "Paged", "--json")
    assert result.returncode == 0, result.stderr
    first = admin.client.get(f"/s/{paged}/paged")
    assert "Page 1 of 3" in first.text and 'rel="next"' in first.text
    last = admin.client.get(f"/s/{paged}/paged?page=2")
    assert "Page 3 of 3" in last.text and 'rel="prev"' in last.text and "2010-01-06" in last.text
    assert admin.client.get(f"/s/{paged}/paged?page=99").status == 200  # clamped to the last page


def test_notes_stay_editable_after_the_meeting_with_a_revision_history(server, admin, corpus_space, make_user):
    space = corpus_space
    api = f"/api/spaces/{space}/series/architecture-hour/meetings/2022-10-12"
    send_notes(server, api + "/live", admin, "late-1", [
        {"clientSeq": 1, "kind": "create", "bullet": "late-note", "parent": "meeting", "order": "0V", "text": ""},
        {"clientSeq": 2, "kind": "text", "bullet": "late-note", "rev": 0, "op": ["Follow-up: FedX owns theming"]}])
    editor = make_user("Rita Reviser")
    admin.client.api("POST", f"/api/spaces/{space}/members", {"email": editor.email, "role": "member"}, expect=200)
    # Replace "FedX" (UTF-16 offsets 11..15 of 28) by "Open edX".
    send_notes(server, api + "/live", editor, "late-2", [
        {"clientSeq": 1, "kind": "text", "bullet": "late-note", "rev": 1, "op": [11, -4, "Open edX", 13]}])
    notes = admin.client.api("GET", api + "/notes", expect=200)
    assert any(b["text"] == "Follow-up: Open edX owns theming" for b in notes["bullets"]), notes
    history = admin.client.get(f"/s/{space}/architecture-hour/2022-10-12/history").text
    assert "Rita Reviser" in history and "Ada Admin" in history
    assert "<del>FedX</del><ins>Open edX</ins>" in history, history[history.find("revisions"):][:1500]
    assert "Imported or anonymous" in history  # the bullets the import created
    found = admin.client.api("GET", f"/api/search?q=%22Open%20edX%20owns%22&space={space}", expect=200)
    assert [h["url"] for h in found] == [f"/s/{space}/architecture-hour/2022-10-12#bullet-late-note"], found


def test_action_items_are_listed_and_shown_at_the_next_meeting(server, admin, tmp_path):
    space = admin.client.create_space("public")["space"]["slug"]
    series = admin.client.create_series(space, slug="weekly", name="Weekly")
    upcoming = admin.client.first_meeting_date(space, "weekly")
    notes = tmp_path / "actions.md"
    notes.write_text("\n".join([
        "## 2022-03-02", "", "### [quest] (Ada Admin) Event bus", "",
        "- [todo] @ada.admin write the ADR due 2030-01-15 https://example.org/adr/7",
        "- ACTION: (Bo) file the ticket",
        "- [done] old item",
        "- just a note",
    ]))
    result = import_file(server, notes, space, "--series", "weekly")
    assert result.returncode == 0, result.stderr

    space_page = body_text(admin.client.get(f"/s/{space}").text)
    assert "write the ADR" in space_page and "file the ticket" in space_page and "old item" not in space_page
    next_meeting = admin.client.get(f"/s/{space}/weekly/{upcoming}").text
    assert "Open action items from earlier meetings" in next_meeting
    assert re.search(r'href="/s/' + space + r'/weekly/2022-03-02#bullet-imp-[0-9a-f]+"', next_meeting)
    person = body_text(admin.client.get(f"/s/{space}/people/Ada%20Admin").text)
    assert "write the ADR" in person and "due 2030-01-15" in person
    assert "file the ticket" not in person
    # The imported meeting itself (ended) does not repeat the list.
    assert "Open action items from earlier meetings" not in admin.client.get(f"/s/{space}/weekly/2022-03-02").text


def test_outsiders_see_nothing_of_a_private_archive(server, admin):
    space = imported_space(server, admin, visibility="private")
    outsider = sign_up(server, "Olive Outsider")
    anonymous = server.client()
    topic_id = admin.client.api("GET", f"/api/search?q=Hacktoberfest&space={space}", expect=200)[0]["url"]
    paths = [f"/s/{space}", f"/s/{space}/export?format=json", f"/s/{space}/feed.atom", f"/s/{space}/architecture-hour/feed.atom",
             f"/s/{space}/architecture-hour/calendar.ics", f"/s/{space}/architecture-hour/export?format=markdown",
             f"/s/{space}/architecture-hour/2022-10-05/export?format=confluence", f"/s/{space}/architecture-hour/2022-10-05/history",
             f"/s/{space}/people/Jeremy", topic_id.split("#")[0]]
    for path in paths:
        assert admin.client.get(path).status == 200, path
        for who in (outsider.client, anonymous):
            response = who.get(path)
            assert response.status == 404, (path, response)
            assert "Hacktoberfest" not in response.text and "Jeremy" not in response.text
    for who in (outsider.client, anonymous):
        found = who.get(f"/api/search?q=Hacktoberfest")
        assert found.status == 200 and not [h for h in found.json() if f"/s/{space}/" in h["url"]]


CHROMIUM = os.environ.get("HOURGLASS_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM}")
def test_search_result_opens_the_meeting_scrolled_to_the_highlighted_bullet(server, admin, corpus_space, artifacts_dir):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            context = browser.new_context(base_url=server.base_url, viewport={"width": 1000, "height": 700})
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto("/search?q=" + urllib.parse.quote('"T-shirts for developers"') + f"&space={corpus_space}")
            hit = page.locator("ol.hits li.bullet a").first
            expect(hit).to_be_visible()
            expect(page.locator("ol.hits li.bullet .snippet mark", has_text="developers").first).to_be_visible()
            hit.click()
            page.wait_for_url(re.compile(r"/2022-10-05#bullet-imp-"))
            bullet_id = page.url.split("#")[1]
            target = page.locator(f"li#{bullet_id}")
            expect(target).to_contain_text("Easy way to get T-shirts for developers")
            # Highlighted (by :target before the script runs, by the outliner after) and scrolled into view.
            expect(target).to_have_class(re.compile(r"\bhighlight\b"))
            background = target.locator(":scope > .text").evaluate("el => getComputedStyle(el).backgroundColor")
            assert background == "rgb(255, 243, 191)", background
            box = target.bounding_box()
            assert box is not None and 0 <= box["y"] <= 700 - box["height"], box
            assert page.evaluate("() => window.scrollY") > 0
            page.screenshot(path=str(artifacts_dir / "search-to-bullet.png"))
            assert not problems, problems
        finally:
            browser.close()
