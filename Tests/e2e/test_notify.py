"""Watchers, comments and notifications end to end: a real SMTP server (aiosmtpd) receiving the
email, a local HTTP server receiving webhooks and checking their HMAC signatures, edits after the
meeting sent as one digest once the notes were quiet, and a kill -9 of the server mid-delivery."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from conftest import Person, free_port, make_meeting, send_notes, set_up_admin, sign_up, wait_until


class Sink:
    """An SMTP server that keeps every message it accepted; RCPT can be slowed down or refused."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.rcpt_delay = 0.0
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio
        if address.startswith("reject"):
            return "550 5.1.1 No such mailbox"
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list:
        with self.lock:
            return [m for m in self.messages if m["X-Envelope-To"] == address]

    def all(self) -> list:
        with self.lock:
            return list(self.messages)


@pytest.fixture
def smtp():
    sink = Sink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


class Hooks:
    """An HTTP server recording webhook calls; /fail answers 500, /redirect redirects to itself."""

    def __init__(self):
        self.calls: list[dict] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hooks.calls.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self.path.startswith("/fail"):
                    self.send_response(500)
                elif self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", self.path)
                else:
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[dict]:
        return [c for c in self.calls if c["path"] == path]


@pytest.fixture
def hooks():
    receiver = Hooks()
    yield receiver
    receiver.server.shutdown()


def notify_args(sink: Sink, quiet_minutes: str = "0.05") -> list[str]:
    return ["--smtp-host", "127.0.0.1", "--smtp-port", str(sink.port), "--smtp-from", "Hourglass <hourglass@example.org>",
            "--notes-quiet-minutes", quiet_minutes, "--allow-private-webhooks", "--notify-interval-ms", "100",
            # No reminders or agenda notices unless a test asks for them: they would arrive at unpredictable times.
            "--reminder-minutes", "0", "--agenda-delay-minutes", "100000"]


@pytest.fixture
def notify_server(start_server, smtp):
    server = start_server(extra_args=notify_args(smtp))
    return server


def watch(person: Person, space: str, kind: str, target: str, on: bool = True) -> None:
    result = person.client.api("POST", f"/api/spaces/{space}/watches", {"kind": kind, "target": target, "watching": "on" if on else "off"}, expect=200)
    assert result["watching"] is on


def member(owner: Person, space: str, person: Person) -> None:
    owner.client.api("POST", f"/api/spaces/{space}/members", {"email": person.email, "role": "member"}, expect=200)


def text_part(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_a_comment_reaches_every_watcher_and_mention_once_by_inbox_email_and_webhooks(notify_server, smtp, hooks):
    server = notify_server
    admin = set_up_admin([server])
    meeting = make_meeting(admin)
    space, series = meeting.space, meeting.series
    board = admin.client.api("GET", meeting.api, expect=200)["board"]
    people = {name: sign_up(server, name) for name in ("Sam Space", "Sera Series", "Mo Meeting", "Pia Proposer", "Men Tioned",
                                                         "Ann Author", "Otto Outsider", "Una Unwatched")}
    for person in people.values():
        member(admin, space, person)
    view = admin.client.api("GET", f"/api/spaces/{space}", expect=200)
    space_id = view["space"]["id"]
    series_id = next(s["id"] for s in view["series"] if s["slug"] == series)
    watch(people["Sam Space"], space, "space", space_id)
    watch(people["Sera Series"], space, "series", series_id)
    watch(people["Mo Meeting"], space, "meeting", board["meeting"]["id"])
    # Proposing watches the topic; Una watched it and turned that off.
    topic = people["Pia Proposer"].client.api("POST", meeting.commands, {"type": "propose", "tag": "quest", "title": "Event bus versions"},
                                              expect=200)["board"]["topics"][0]["id"]
    watch(people["Una Unwatched"], space, "topic", topic)
    watch(people["Una Unwatched"], space, "topic", topic, on=False)

    # Webhooks: generic (signed) and Slack-compatible.
    generic = admin.client.api("POST", f"/api/spaces/{space}/webhooks", {"url": hooks.url + "/generic", "format": "generic"}, expect=201)
    admin.client.api("POST", f"/api/spaces/{space}/webhooks", {"url": hooks.url + "/slack", "format": "slack"}, expect=201)

    body = "What about <script>alert(1)</script> schemas? @men.tioned please look"
    comment = people["Ann Author"].client.api("POST", f"/api/spaces/{space}/comments", {"topicId": topic, "body": body}, expect=201)
    expected = {people[n].email for n in ("Sam Space", "Sera Series", "Mo Meeting", "Pia Proposer", "Men Tioned")}
    wait_until(lambda: {m["X-Envelope-To"] for m in smtp.all()} >= expected, timeout=20, message=f"email to {expected}")
    time.sleep(1.0)  # anything extra would arrive now
    received = smtp.all()
    assert sorted(m["X-Envelope-To"] for m in received) == sorted(expected), [m["X-Envelope-To"] for m in received]
    mail = smtp.to(people["Sam Space"].email)[0]
    assert "Ann Author commented on “Event bus versions”" in mail["Subject"]
    assert body in text_part(mail) and "&lt;script&gt;" in html_part(mail) and "<script>" not in html_part(mail)
    assert mail["Message-ID"] and mail["List-Unsubscribe"].startswith("<http") and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = f"/s/{space}/topics/{topic.lower()}#comment-{comment['id'].lower()}"
    assert link in text_part(mail)

    # The inbox has it, linking to the exact place; the author and the others have nothing.
    sam = people["Sam Space"]
    inbox = sam.client.api("GET", "/api/inbox", expect=200)
    assert inbox["unread"] == 1 and inbox["items"][0]["link"] == link
    for quiet in ("Ann Author", "Otto Outsider", "Una Unwatched"):
        assert people[quiet].client.api("GET", "/api/inbox", expect=200)["items"] == [], quiet
    sam.client.api("POST", "/api/inbox/read", {}, expect=200)
    assert sam.client.api("GET", "/api/inbox/unread", expect=200)["unread"] == 0

    # Webhooks: one call each, the generic one signed with its secret.
    wait_until(lambda: hooks.on("/generic") and hooks.on("/slack"), timeout=15, message="webhook calls")
    call = hooks.on("/generic")[0]
    signature = call["headers"].get("X-Hourglass-Signature")
    assert signature == "sha256=" + hmac.new(generic["secret"].encode(), call["body"], hashlib.sha256).hexdigest()
    payload = json.loads(call["body"])
    assert payload["event"] == "comment" and payload["url"].endswith(link) and payload["space"] == space
    slack = json.loads(hooks.on("/slack")[0]["body"])
    assert set(slack) == {"text"} and "&lt;script&gt;" in slack["text"]
    assert "X-Hourglass-Signature" not in hooks.on("/slack")[0]["headers"]

    # The unsubscribe link works without a session (one click), and stops email only.
    url = urllib.parse.urlparse(mail["List-Unsubscribe"].strip("<>"))
    anonymous = server.client()
    assert anonymous.get(url.path + "?" + url.query).status == 200
    assert anonymous.post(url.path + "?" + url.query, form={}).status == 200
    assert sam.client.api("GET", "/api/me/preferences", expect=200)["email"] == "off"
    assert anonymous.post("/unsubscribe?token=" + url.query.split("=", 1)[1][:-4] + "0000", form={}).status == 404

    # Editing keeps the history; a second comment reaches Sam's inbox but not his mailbox.
    edited = people["Ann Author"].client.request("PATCH", f"/api/spaces/{space}/comments/{comment['id']}", json_body={"body": "Better words"})
    assert edited.status == 200 and edited.json()["body"] == "Better words"
    edits = people["Ann Author"].client.api("GET", f"/api/spaces/{space}/comments/{comment['id']}/edits", expect=200)
    assert [e["body"] for e in edits] == [body]
    assert sam.client.request("PATCH", f"/api/spaces/{space}/comments/{comment['id']}", json_body={"body": "hijack"}).status == 403
    people["Pia Proposer"].client.api("POST", f"/api/spaces/{space}/comments", {"topicId": topic, "body": "Second", "parentId": comment["id"]}, expect=201)
    wait_until(lambda: sam.client.api("GET", "/api/inbox/unread", expect=200)["unread"] == 1, message="the second notification")
    time.sleep(1.0)
    assert len(smtp.to(sam.email)) == 1
    assert len(smtp.to(people["Ann Author"].email)) == 1  # Ann watches what she commented on; Pia's reply reaches her

    # Comments are found by search, linking to the comment; not by people who may not read the space.
    found = sam.client.api("GET", f"/api/search?q=%22Better%20words%22&space={space}", expect=200)
    assert [(h["kind"], h["url"]) for h in found] == [("comment", link)], found

    # The topic page shows the thread, escaped.
    page = sam.client.get(f"/s/{space}/topics/{topic}").text
    assert f'id="comment-{comment["id"].lower()}"' in page and "Better words" in page and "Second" in page and "<script>alert" not in page


def test_bad_comments_and_webhooks_are_refused_clearly(server, admin):
    meeting = make_meeting(admin)
    topic = admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "quest", "title": "T"}, expect=200)["board"]["topics"][0]["id"]
    comments = f"/api/spaces/{meeting.space}/comments"
    for payload, status in [({"topicId": topic, "body": ""}, 422), ({"topicId": topic, "body": "x" * 10_001}, 422),
                            ({"topicId": topic, "body": "bell \u0007"}, 422), ({"topicId": "nope", "body": "x"}, 404),
                            ({"body": "on nothing"}, 400), ({"topicId": topic, "body": "x", "parentId": "00000000-0000-4000-8000-000000000000"}, 404),
                            ({"meetingId": "00000000-0000-4000-8000-000000000000", "bulletId": "b", "body": "x"}, 400)]:
        response = admin.client.request("POST", comments, json_body=payload)
        assert response.status == status, (payload, response)
    assert server.client().request("POST", comments, json_body={"topicId": topic, "body": "anonymous"}).status == 401
    # Server-side request forgery: without --allow-private-webhooks, internal addresses are refused.
    hooks = f"/api/spaces/{meeting.space}/webhooks"
    for url in ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/", "http://192.168.0.10/", "ftp://example.org/", "not a url", "http://user:pw@example.org/"]:
        response = admin.client.request("POST", hooks, json_body={"url": url, "format": "generic"})
        assert response.status == 400, (url, response)
    outsider = sign_up(server, "Nora Nonmember")
    private = make_meeting(admin, visibility="private")
    assert outsider.client.request("POST", f"/api/spaces/{private.space}/comments", json_body={"topicId": topic, "body": "x"}).status == 404
    assert outsider.client.request("POST", f"/api/spaces/{private.space}/watches", json_body={"kind": "space", "target": topic}).status == 404


def test_private_content_never_reaches_former_members(notify_server, smtp):
    server = notify_server
    admin = set_up_admin([server])
    meeting = make_meeting(admin, visibility="private")
    view = admin.client.api("GET", f"/api/spaces/{meeting.space}", expect=200)
    stays, leaves = sign_up(server, "Stella Stays"), sign_up(server, "Lee Leaves")
    for person in (stays, leaves):
        member(admin, meeting.space, person)
        watch(person, meeting.space, "space", view["space"]["id"])
    admin.client.request("DELETE", f"/api/spaces/{meeting.space}/members/{leaves.user['id']}")
    topic = admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "quest", "title": "Secret plans"}, expect=200)["board"]["topics"][0]["id"]
    admin.client.api("POST", f"/api/spaces/{meeting.space}/comments", {"topicId": topic, "body": "Only for members"}, expect=201)
    wait_until(lambda: smtp.to(stays.email), timeout=15, message="the member's email")
    time.sleep(1.0)
    assert not smtp.to(leaves.email)
    assert leaves.client.api("GET", "/api/inbox", expect=200)["items"] == []


def test_notes_ready_once_then_later_edits_as_one_digest_after_a_quiet_period(notify_server, smtp):
    server = notify_server
    admin = set_up_admin([server])
    meeting = make_meeting(admin)
    board = admin.client.api("GET", meeting.api, expect=200)["board"]
    watcher, editor = sign_up(server, "Wendy Watcher"), sign_up(server, "Ed Editor")
    watch(watcher, meeting.space, "meeting", board["meeting"]["id"])
    # During the live hour: edits notify nobody.
    admin.client.api("POST", meeting.commands, {"type": "startMeeting"}, expect=200)
    send_notes(server, meeting.live, editor, "live", [
        {"clientSeq": 1, "kind": "create", "bullet": "n1", "parent": "meeting", "order": "V", "text": ""},
        {"clientSeq": 2, "kind": "text", "bullet": "n1", "rev": 0, "op": ["We chose Kafka"]}])
    admin.client.api("POST", meeting.commands, {"type": "endMeeting"}, expect=200)
    wait_until(lambda: smtp.to(watcher.email), timeout=15, message="notes are ready")
    ready = smtp.to(watcher.email)
    assert len(ready) == 1 and ready[0]["Subject"].startswith("Notes are ready")
    wait_until(lambda: smtp.to(editor.email), timeout=15, message="notes are ready for the editor, who watches by editing")
    assert smtp.to(editor.email)[0]["Subject"].startswith("Notes are ready")

    # After the meeting: two edits a second apart, then quiet (3 s here): one digest with the diff.
    send_notes(server, meeting.live, editor, "late", [{"clientSeq": 1, "kind": "text", "bullet": "n1", "rev": 1, "op": [9, -5, "Pulsar"]}])
    time.sleep(1)
    send_notes(server, meeting.live, editor, "late2", [{"clientSeq": 1, "kind": "create", "bullet": "n2", "parent": "meeting", "order": "W", "text": "Owner: Ed"}])
    time.sleep(1.5)
    assert len(smtp.to(watcher.email)) == 1, "sent before the notes were quiet"
    wait_until(lambda: len(smtp.to(watcher.email)) == 2, timeout=15, message="the digest")
    time.sleep(4)
    digests = smtp.to(watcher.email)[1:]
    assert len(digests) == 1
    text = text_part(digests[0])
    assert "Ed Editor changed the notes" in digests[0]["Subject"]
    assert "[-Kafka-]{+Pulsar+}" in text and "added: Owner: Ed" in text, text
    assert "<del>Kafka</del><ins>Pulsar</ins>" in html_part(digests[0])
    assert len(smtp.to(editor.email)) == 1  # the only editor is not told about their own edits


def test_failing_destinations_are_retried_or_dead_lettered_for_the_owner(notify_server, smtp, hooks):
    server = notify_server
    admin = set_up_admin([server])
    meeting = make_meeting(admin)
    api = f"/api/spaces/{meeting.space}"
    admin.client.api("POST", api + "/webhooks", {"url": hooks.url + "/fail", "format": "generic"}, expect=201)
    admin.client.api("POST", api + "/webhooks", {"url": hooks.url + "/redirect", "format": "slack"}, expect=201)
    rejected = sign_up(server, "Rex Rejected", email="reject-me@example.com")
    watch(rejected, meeting.space, "meeting", admin.client.api("GET", meeting.api, expect=200)["board"]["meeting"]["id"])
    topic = admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "quest", "title": "Flaky"}, expect=200)["board"]["topics"][0]["id"]
    admin.client.api("POST", api + "/comments", {"topicId": topic, "body": "ping"}, expect=201)

    def dead() -> list[dict]:
        return admin.client.api("GET", api + "/deliveries?state=dead", expect=200)
    wait_until(lambda: len(dead()) == 2, timeout=20, message="the redirect and the refused recipient dead-lettered")
    reasons = {d["kind"]: d["lastError"] for d in dead()}
    assert "redirect" in reasons["webhook"] and "550" in reasons["email"], reasons
    pending = admin.client.api("GET", api + "/deliveries?state=pending", expect=200)
    assert len(pending) == 1 and pending[0]["attempts"] >= 1 and "500" in pending[0]["lastError"], pending
    assert len(hooks.on("/redirect")) == 1  # not followed, not retried
    page = admin.client.get(f"/s/{meeting.space}").text
    assert "Failed deliveries" in page and "reject-me@example.com" in page
    # Others may not see the dead letters.
    outsider = sign_up(server, "Olaf Other")
    assert outsider.client.request("GET", api + "/deliveries?state=dead").status == 403


def test_killing_the_server_mid_delivery_loses_nothing_and_sends_nothing_twice(start_server, smtp, tmp_data_dir):
    server = start_server(extra_args=notify_args(smtp))
    admin = set_up_admin([server])
    meeting = make_meeting(admin)
    meeting_id = admin.client.api("GET", meeting.api, expect=200)["board"]["meeting"]["id"]
    watchers = [sign_up(server, f"Watcher {i:02d}") for i in range(12)]
    for person in watchers:
        watch(person, meeting.space, "meeting", meeting_id)
    smtp.rcpt_delay = 0.4  # slow enough to kill the server in the middle
    topic = admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "quest", "title": "Crash"}, expect=200)["board"]["topics"][0]["id"]
    admin.client.api("POST", f"/api/spaces/{meeting.space}/comments", {"topicId": topic, "body": "Hello everyone"}, expect=201)
    wait_until(lambda: len(smtp.all()) >= 2, timeout=20, message="the first deliveries")
    server.kill()
    delivered_before = len(smtp.all())
    assert delivered_before < 12, "everything was sent before the kill; the test proves nothing"
    port = server.port
    server.spawn(port)
    server.wait_healthy()
    smtp.rcpt_delay = 0
    expected = sorted(p.email for p in watchers)
    # Deliveries claimed by the killed process are retried once their claim (30 s) runs out.
    wait_until(lambda: sorted({m["X-Envelope-To"] for m in smtp.all()}) == expected, timeout=60, interval=0.5, message="every watcher's email")
    time.sleep(1.5)
    received = [m["X-Envelope-To"] for m in smtp.all()]
    assert sorted(received) == expected, f"duplicates or extras: {sorted((m['X-Envelope-To'], m['Message-ID'], m['Date']) for m in smtp.all())}"
    assert len({m["Message-ID"] for m in smtp.all()}) == 12


def test_series_watchers_hear_of_new_topics_once_a_day_and_before_the_meeting(start_server, smtp):
    args = notify_args(smtp)
    args[args.index("--reminder-minutes") + 1] = "1000000"  # every upcoming meeting is "soon"
    args[args.index("--agenda-delay-minutes") + 1] = "0.01"
    server = start_server(extra_args=args + ["--daily-digest-hour", "0"])
    admin = set_up_admin([server])
    meeting = make_meeting(admin)
    view = admin.client.api("GET", f"/api/spaces/{meeting.space}", expect=200)
    series_id = next(s["id"] for s in view["series"] if s["slug"] == meeting.series)
    fan, daily = sign_up(server, "Fay Follower"), sign_up(server, "Dan Daily")
    for person in (fan, daily):
        watch(person, meeting.space, "series", series_id)
    daily.client.request("PUT", "/api/me/preferences", json_body={"email": "daily"})
    admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": "Release train"}, expect=200)
    wait_until(lambda: len(smtp.to(fan.email)) >= 2, timeout=20, message="the agenda notice and the reminder")
    subjects = sorted(m["Subject"] for m in smtp.to(fan.email))
    assert any(s.startswith("New topics for") for s in subjects) and any("starts soon" in s for s in subjects), subjects
    assert "Release train" in text_part(next(m for m in smtp.to(fan.email) if m["Subject"].startswith("New topics")))
    # A second proposal the same day: no second agenda notice.
    admin.client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": "Second thing"}, expect=200)
    time.sleep(4)
    assert len([m for m in smtp.to(fan.email) if m["Subject"].startswith("New topics")]) == 1
    assert len([m for m in smtp.to(fan.email) if "starts soon" in m["Subject"]]) == 1
    # Dan chose a daily digest: one email listing what is in his inbox, nothing immediate.
    wait_until(lambda: smtp.to(daily.email), timeout=20, message="the daily digest")
    time.sleep(2)
    mails = smtp.to(daily.email)
    assert len(mails) == 1 and "today" in mails[0]["Subject"], [m["Subject"] for m in mails]
    assert len(daily.client.api("GET", "/api/inbox", expect=200)["items"]) >= 2
