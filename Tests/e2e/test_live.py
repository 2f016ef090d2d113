"""The meeting WebSocket with real clients (the `websockets` package) against the real server."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Callable

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conftest import Meeting, Person, make_meeting

TIMEOUT = 15.0


class Live:
    """One WebSocket client: remembers every frame it received, waits for frames by predicate."""

    def __init__(self, server, meeting: Meeting, person: Person | None, label: str):
        headers = {"Cookie": person.cookie_header} if person else {}
        self.label = label
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(server.ws_base + meeting.live, additional_headers=headers, open_timeout=TIMEOUT, max_size=None))
        self.frames: list[dict] = []
        self.pending: list[dict] = []
        self._ids = 0

    def close(self) -> None:
        self._stack.close()

    def _next(self, timeout: float) -> dict:
        raw = self.ws.recv(timeout=timeout)
        assert isinstance(raw, str), f"{self.label}: the server sent a binary frame {raw!r}"
        frame = json.loads(raw)
        self.frames.append(frame)
        return frame

    def wait_for(self, predicate: Callable[[dict], bool], what: str, timeout: float = TIMEOUT) -> dict:
        """Returns the first frame (buffered or new) matching `predicate`; earlier ones are dropped."""
        while self.pending:
            frame = self.pending.pop(0)
            if predicate(frame):
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.label}: no {what} within {timeout}s; last frames: {self.frames[-5:]!r}")
            try:
                frame = self._next(remaining)
            except TimeoutError:
                continue
            if predicate(frame):
                return frame

    def board(self, predicate: Callable[[dict], bool] = lambda f: True, what: str = "board frame") -> dict:
        return self.wait_for(lambda f: f.get("type") == "board" and predicate(f), what)

    def send(self, message: Any) -> None:
        self.ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    def command(self, command: dict) -> dict:
        """Sends a command and returns its ack or error (board frames in between are kept)."""
        self._ids += 1
        ident = f"{self.label}-{self._ids}"
        self.send({"type": "command", "id": ident, "command": command})
        skipped: list[dict] = []
        reply = self.wait_for(lambda f: f.get("id") == ident and f.get("type") in ("ack", "error") or
                              (skipped.append(f) and False), f"reply to {command!r}")
        self.pending = skipped + self.pending
        return reply

    def ping(self) -> list[dict]:
        """Sends a ping, waits for the pong and returns the frames that came before it."""
        before: list[dict] = []
        self.send({"type": "ping"})
        self.wait_for(lambda f: f.get("type") == "pong" or (before.append(f) and False), "pong")
        return before


def votes_of(frame: dict, topic_id: str) -> int | None:
    for topic in frame["board"]["topics"]:
        if topic["id"] == topic_id:
            return topic["votes"]
    return None


def present_names(frame: dict) -> list[str]:
    return [p["name"] for p in frame["board"]["present"]]


@pytest.fixture
def live_clients(server):
    opened: list[Live] = []

    def open_client(meeting: Meeting, person: Person | None, label: str) -> Live:
        client = Live(server, meeting, person, label)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - already closed by the test
            pass


def propose(person: Person, meeting: Meeting, title: str) -> str:
    frame = person.client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": title}, expect=200)
    return next(t["id"] for t in frame["board"]["topics"] if t["title"] == title)


# --------------------------------------------------------------------------------------------

def test_board_frame_on_connect(server, admin, meeting, live_clients, make_user):
    alice = make_user("Alice Live")
    a = live_clients(meeting, alice, "alice")
    first = a.wait_for(lambda f: True, "first frame")
    assert first["type"] == "board", first
    assert isinstance(first["serverNow"], int)
    assert first["board"]["meeting"]["date"] == meeting.date
    assert first["me"]["name"] == "Alice Live" and first["me"]["signedIn"] is True and first["me"]["canParticipate"] is True
    assert first["me"]["canFacilitate"] is False


def test_vote_reaches_the_other_client(server, admin, meeting, live_clients, make_user):
    alice, bob = make_user("Alice Voter"), make_user("Bob Watcher")
    topic = propose(admin, meeting, "Live voting")
    a = live_clients(meeting, alice, "alice")
    b = live_clients(meeting, bob, "bob")
    b.board(lambda f: votes_of(f, topic) == 0, "initial board")
    # Alice sees Bob as present (in her first frame or a later one: frames are coalesced).
    a.board(lambda f: votes_of(f, topic) == 0 and "Bob Watcher" in present_names(f), "Bob in the presence list")

    reply = a.command({"type": "vote", "topicId": topic})
    assert reply["type"] == "ack", reply
    assert isinstance(reply["seq"], int)

    seen_by_b = b.board(lambda f: votes_of(f, topic) == 1, "Alice's vote")
    assert seen_by_b["me"]["votes"] == {}, "Bob's personal part must not show Alice's votes"
    assert seen_by_b["me"]["votesLeft"] == 3
    assert seen_by_b["board"]["seq"] >= reply["seq"]
    seen_by_a = a.board(lambda f: votes_of(f, topic) == 1, "own vote")
    assert seen_by_a["me"]["votes"] == {topic: 1} and seen_by_a["me"]["votesLeft"] == 2

    # A change through the HTTP API reaches WebSocket clients too.
    bob.client.api("POST", meeting.commands, {"type": "vote", "topicId": topic}, expect=200)
    a.board(lambda f: votes_of(f, topic) == 2, "Bob's vote made over HTTP")


def test_start_topic_gives_both_the_same_clock(server, admin, meeting, live_clients, make_user):
    bob = make_user("Bob Clock")
    topic = propose(admin, meeting, "Timed topic")
    facilitator = live_clients(meeting, admin, "admin")
    participant = live_clients(meeting, bob, "bob")
    assert facilitator.board(what="initial board")["me"]["canFacilitate"] is True
    participant.board(what="initial board")

    reply = facilitator.command({"type": "startTopic", "topicId": ""})
    assert reply["type"] == "ack", reply

    with_clock = lambda f: f["board"].get("clock") is not None  # noqa: E731
    mine = facilitator.board(with_clock, "board with a clock")["board"]["clock"]
    theirs = participant.board(with_clock, "board with a clock")["board"]["clock"]
    assert mine["topicId"] == topic and theirs["topicId"] == topic
    assert mine["phase"] == theirs["phase"] == "discussing"
    assert mine["deadline"] == theirs["deadline"]
    http_clock = bob.client.api("GET", meeting.api, expect=200)["board"].get("clock")
    assert http_clock["deadline"] == mine["deadline"]

    # The participant may not run the clock.
    refused = participant.command({"type": "endTopic"})
    assert refused["type"] == "error" and refused["code"] == "forbidden", refused
    ended = facilitator.command({"type": "endTopic"})
    assert ended["type"] == "ack", ended
    participant.board(lambda f: f["board"].get("clock") is None, "board without a clock")


GARBAGE = [
    pytest.param("not json", "malformed", id="not-json"),
    pytest.param("{}", "malformed", id="empty-object"),
    pytest.param("[]", "malformed", id="array"),
    pytest.param('{"type":"command"}', "malformed", id="command-without-body"),
    pytest.param('{"type":"command","command":{"type":"vote","topicId":"nope"}}', "invalid", id="bad-topic-id"),
    pytest.param('{"type":"command","command":{"type":"vote","topicId":7}}', "malformed", id="non-string-field"),
    pytest.param('{"type":"command","command":{"type":"launch"}}', "invalid", id="unknown-command"),
    pytest.param('{"type":"command","command":{"type":"vote","topicId":"00000000-0000-0000-0000-000000000000"}}',
                 "notFound", id="unknown-topic"),
    pytest.param(b"\xff\xfe", "malformed", id="binary-invalid-utf8"),
    pytest.param(b"\x00\x01\x02", "malformed", id="binary-junk"),
]


@pytest.mark.parametrize("garbage,code", GARBAGE)
def test_garbage_frames_get_an_error_for_the_sender_only(server, admin, meeting, live_clients, make_user, garbage, code):
    alice, bob = make_user("Alice Garbage"), make_user("Bob Bystander")
    a = live_clients(meeting, alice, "alice")
    b = live_clients(meeting, bob, "bob")
    a.board(what="initial board")
    b.board(what="initial board")

    a.send(garbage)
    error = a.wait_for(lambda f: f.get("type") != "board", "an error frame")
    assert error["type"] == "error", error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert "id" in error

    # The sender's socket still works ...
    assert not [f for f in a.ping() if f.get("type") == "error"]
    # ... and the bystander never saw an error.
    assert not [f for f in b.ping() if f.get("type") == "error"]
    assert not [f for f in b.frames if f.get("type") == "error"]


def test_error_reply_carries_the_command_id(server, meeting, live_clients, make_user):
    a = live_clients(meeting, make_user("Alice Ids"), "alice")
    a.send({"type": "command", "id": "x" * 500, "command": {"type": "vote", "topicId": "nope"}})
    error = a.wait_for(lambda f: f.get("type") == "error", "an error frame")
    assert error["id"] == "x" * 64, "ids are echoed, truncated to 64 characters"
    a.send({"type": "command", "id": "c1", "command": {"type": "propose", "tag": "inform", "title": ""}})
    error = a.wait_for(lambda f: f.get("type") == "error", "an error frame")
    assert error["id"] == "c1" and error["code"] == "invalid", error


def test_binary_json_frames_are_accepted(server, meeting, live_clients, make_user):
    a = live_clients(meeting, make_user("Alice Binary"), "alice")
    a.send(b'{"type":"ping"}')
    a.wait_for(lambda f: f.get("type") == "pong", "pong to a binary ping")


def test_signed_out_viewer_reads_but_cannot_act(server, admin, meeting, live_clients):
    topic = propose(admin, meeting, "Read only")
    viewer = live_clients(meeting, None, "anon")
    frame = viewer.board(what="initial board")
    assert frame["me"]["signedIn"] is False and frame["me"]["canParticipate"] is False
    reply = viewer.command({"type": "vote", "topicId": topic})
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    viewer.ping()


def test_message_just_under_the_limit_is_handled(server, meeting, live_clients, make_user):
    a = live_clients(meeting, make_user("Alice Big"), "alice")
    a.board(what="initial board")
    message = json.dumps({"type": "command", "id": "big", "command": {"type": "propose", "tag": "inform", "title": "t" * 60000}})
    assert len(message.encode()) < 64 * 1024
    a.send(message)
    error = a.wait_for(lambda f: f.get("type") == "error", "an error frame")
    assert error["id"] == "big" and error["code"] == "invalid", error
    a.ping()


def _closed_code(live: Live) -> int | None:
    try:
        while True:
            live._next(TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def test_oversized_text_frame_closes_with_1009_and_others_carry_on(server, admin, meeting, live_clients, make_user):
    alice, bob = make_user("Alice Oversize"), make_user("Bob Survivor")
    topic = propose(admin, meeting, "Survive")
    a = live_clients(meeting, alice, "alice")
    b = live_clients(meeting, bob, "bob")
    a.board(what="initial board")
    b.board(what="initial board")

    a.send(json.dumps({"type": "command", "id": "huge", "command": {"type": "propose", "tag": "inform",
                                                                    "title": "x" * (70 * 1024)}}))
    assert _closed_code(a) == 1009

    b.ping()
    reply = b.command({"type": "vote", "topicId": topic})
    assert reply["type"] == "ack", reply
    b.board(lambda f: votes_of(f, topic) == 1, "own vote after the other socket died")
    # The server itself is fine, and the oversized proposal was not applied.
    titles = [t["title"] for t in admin.client.api("GET", meeting.api, expect=200)["board"]["topics"]]
    assert titles == ["Survive"]


def test_oversized_fragmented_message_closes_with_1009(server, meeting, live_clients, make_user):
    a = live_clients(meeting, make_user("Alice Fragments"), "alice")
    a.board(what="initial board")
    # Three fragments of 30 KiB: each frame is small, the message is not.
    a.ws.send(iter(["[" + "1," * (15 * 1024), "1," * (15 * 1024), "1," * (15 * 1024) + "1]"]))
    assert _closed_code(a) == 1009


def test_invalid_utf8_text_frame_closes_with_1007(server, meeting, live_clients, make_user):
    a = live_clients(meeting, make_user("Alice Utf"), "alice")
    a.board(what="initial board")
    a.ws.send(b'{"type":"ping","x":"\xff\xfe"}', text=True)
    assert _closed_code(a) == 1007


def test_presence_follows_connections(server, admin, meeting, live_clients, make_user):
    alice, bob = make_user("Alice Presence"), make_user("Bob Presence")
    a = live_clients(meeting, alice, "alice")
    a.board(lambda f: "Alice Presence" in present_names(f), "self in the presence list")
    b = live_clients(meeting, bob, "bob")
    a.board(lambda f: "Bob Presence" in present_names(f), "Bob arriving")
    b.close()
    a.board(lambda f: "Bob Presence" not in present_names(f), "Bob leaving")


def test_private_meeting_socket_for_members(server, live_clients, make_user):
    owner, member = make_user("Priya Owner"), make_user("Max Member")
    meeting = make_meeting(owner, visibility="private")
    owner.client.api("POST", f"/api/spaces/{meeting.space}/members", {"email": member.email, "role": "member"}, expect=200)
    topic = propose(owner, meeting, "Private matters")
    m = live_clients(meeting, member, "member")
    assert m.board(what="initial board")["me"]["canParticipate"] is True
    assert m.command({"type": "vote", "topicId": topic})["type"] == "ack"
