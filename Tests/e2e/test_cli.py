"""The command line and the server process: `user add`, restarts (graceful and not) and `migrate-data`.

Run alone with:  /tmp/venv/bin/python -m pytest Tests/e2e/test_cli.py -q
The migrate-data tests need PostgreSQL and skip without HOURGLASS_TEST_POSTGRES_URL:
    scripts/with-postgres.sh /tmp/venv/bin/python -m pytest Tests/e2e/test_cli.py -q
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from conftest import (PASSWORD, Meeting, Person, Server, make_meeting, psql, run_cli, send_notes, set_up_admin, sign_up,
                      unique_email)
from test_live import Live, votes_of

SETUP_NOTICE = "no administrator yet"
TABLES = ("users", "spaces", "memberships", "series", "meetings", "topics", "votes", "bullets", "note_ops", "notes_heads",
          "watches", "comments", "comment_edits", "notify_events", "inbox", "deliveries", "preferences", "webhooks", "notes_digests")


def terminate_gracefully(server: Server, within: float = 5.0) -> int:
    """SIGTERM; the process must exit by itself within `within` seconds. Returns its exit status."""
    assert server.process is not None and server.process.poll() is None, "the server is not running"
    server.process.terminate()
    try:
        return server.process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        server.kill()
        raise AssertionError(f"the server did not exit within {within}s of SIGTERM; output:\n{server.log()[-3000:]}") from None


def propose(person: Person, meeting: Meeting, title: str) -> str:
    frame = person.client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": title}, expect=200)
    return next(t["id"] for t in frame["board"]["topics"] if t["title"] == title)


def command(person: Person, meeting: Meeting, kind: str, **fields: str) -> dict:
    return person.client.api("POST", meeting.commands, {"type": kind, **fields}, expect=200)


def rebind(person: Person, server: Server) -> Person:
    """The same person and session on another server process."""
    return Person(person.name, person.email, person.password, person.token, person.user, server.client(person.token))


def sign_in(server: Server, person: Person) -> Person:
    response = server.client().post("/api/signin", json_body={"email": person.email, "password": person.password})
    assert response.status == 200, f"{person.email} cannot sign in: {response!r}"
    token = response.json()["token"]
    return Person(person.name, person.email, person.password, token, response.json()["user"], server.client(token))


# --------------------------------------------------------------------------------------------
# hourglass user add
# --------------------------------------------------------------------------------------------

def test_user_add_creates_an_admin_who_can_sign_in(tmp_data_dir, start_server):
    email = "a@example.com"
    created = run_cli("user", "add", "--admin", "--email", email, "--name", "Ann", "--data-dir", str(tmp_data_dir),
                      stdin=PASSWORD + "\n")
    assert created.returncode == 0, created
    assert email in created.stdout, created

    # The same email again (in any case) is refused clearly, and nothing changes.
    again = run_cli("user", "add", "--email", "A@Example.com", "--name", "Ann Again", "--data-dir", str(tmp_data_dir),
                    stdin=PASSWORD + "\n")
    assert again.returncode != 0, again
    assert "already exists" in again.stderr, again.stderr
    # A too short password is refused clearly, and no account is made.
    short = run_cli("user", "add", "--email", "short@example.com", "--name", "Shorty", "--data-dir", str(tmp_data_dir),
                    stdin="short\n")
    assert short.returncode != 0, short
    assert "password" in short.stderr and "8 characters" in short.stderr, short.stderr
    # So is an empty one (nothing on standard input).
    empty = run_cli("user", "add", "--email", "empty@example.com", "--name", "Empty", "--data-dir", str(tmp_data_dir), stdin="")
    assert empty.returncode != 0 and "password" in empty.stderr, empty

    server = start_server(tmp_data_dir)
    assert not server.setup_tokens(), f"a setup link was printed although an admin exists:\n{server.log()}"
    signin = server.client().post("/api/signin", json_body={"email": email, "password": PASSWORD})
    assert signin.status == 200, signin
    payload = signin.json()
    assert payload["user"]["isAdmin"] is True and payload["user"]["name"] == "Ann", payload
    home = server.client().get("/")
    assert home.status == 200 and SETUP_NOTICE not in home.text, "the home page still asks for the setup link"
    assert SETUP_NOTICE not in server.client(payload["token"]).get("/").text
    for refused in ("short@example.com", "empty@example.com"):
        response = server.client().post("/api/signin", json_body={"email": refused, "password": "short"})
        assert response.status == 401, response
    # The administrator can do administrator things.
    admin = Person("Ann", email, PASSWORD, payload["token"], payload["user"], server.client(payload["token"]))
    make_meeting(admin)


def test_user_add_on_an_installation_with_a_pending_setup_link(tmp_data_dir, start_server):
    """A server printed a setup link; an admin made from the shell meanwhile closes it."""
    server = start_server(tmp_data_dir)
    token = server.setup_token()
    assert SETUP_NOTICE in server.client().get("/").text
    created = run_cli("user", "add", "--admin", "--email", "shell@example.com", "--name", "Shell Admin",
                      "--data-dir", str(tmp_data_dir), stdin=PASSWORD + "\n")
    assert created.returncode == 0, created
    signin = server.client().post("/api/signin", json_body={"email": "shell@example.com", "password": PASSWORD})
    assert signin.status == 200 and signin.json()["user"]["isAdmin"] is True, signin
    # The old link can no longer make a second administrator ...
    late = server.client().post("/api/setup", json_body={"token": token, "name": "Late", "email": unique_email("late"),
                                                         "password": PASSWORD})
    assert late.status in (403, 409, 410), late
    # ... and the home page no longer asks for it.
    assert SETUP_NOTICE not in server.client().get("/").text


# --------------------------------------------------------------------------------------------
# Restarts
# --------------------------------------------------------------------------------------------

def test_graceful_restart_mid_topic_keeps_the_clock(tmp_data_dir, start_server):
    server = start_server(tmp_data_dir)
    admin = set_up_admin([server])
    meeting = make_meeting(admin)
    topic = propose(admin, meeting, "Survives a restart")
    other = propose(admin, meeting, "Waits its turn")
    frame = command(admin, meeting, "startTopic", topicId="")
    clock = frame["board"]["clock"]
    assert clock is not None and clock["topicId"] == topic and clock["phase"] == "discussing", clock
    assert clock["deadline"] > frame["serverNow"]
    seq = frame["board"]["seq"]

    # Someone is connected when the server goes down: that must not hold up the shutdown.
    watcher = Live(server, meeting, admin, "watcher")
    try:
        assert watcher.board(what="board before the restart")["board"]["clock"] == clock
        assert terminate_gracefully(server) == 0, f"SIGTERM exit status; output:\n{server.log()[-3000:]}"
        with pytest.raises(ConnectionClosed):
            while True:
                watcher._next(5)
    finally:
        watcher.close()

    restarted = start_server(tmp_data_dir)
    assert not restarted.setup_tokens(), restarted.log()
    admin = rebind(admin, restarted)  # sessions survive a restart
    after = admin.client.api("GET", meeting.api, expect=200)
    assert after["board"]["clock"] == clock, (after["board"]["clock"], clock)
    assert after["board"]["seq"] == seq
    statuses = {t["id"]: t["status"] for t in after["board"]["topics"]}
    assert statuses == {topic: "discussing", other: "queued"}, statuses
    assert after["board"]["meeting"]["status"] == "live"
    # The clock still runs: it can be ended, and the next topic started.
    ended = command(admin, meeting, "endTopic")
    assert ended["board"]["clock"] is None and ended["board"]["seq"] == seq + 1
    assert command(admin, meeting, "startTopic", topicId="")["board"]["clock"]["topicId"] == other


def test_killed_server_keeps_every_acknowledged_vote(tmp_data_dir, start_server):
    server = start_server(tmp_data_dir)
    admin = set_up_admin([server])
    meeting = make_meeting(admin, votesPerParticipant="6", maxVotesPerTopic="3")
    topics = [propose(admin, meeting, f"Topic {n}") for n in range(4)]
    voters = [sign_up(server, f"Voter {n}") for n in range(3)]

    expected = {t: 0 for t in topics}
    mine: dict[str, dict[str, int]] = {v.email: {} for v in voters}
    last_seq = 0

    def count(voter: Person, topic: str, delta: int, seq: int) -> None:
        nonlocal last_seq
        expected[topic] += delta
        mine[voter.email][topic] = mine[voter.email].get(topic, 0) + delta
        if not mine[voter.email][topic]:
            del mine[voter.email][topic]
        last_seq = max(last_seq, seq)

    # Over HTTP: a 200 is the acknowledgement.
    for n, voter in enumerate(voters):
        for topic in topics[n:n + 3]:
            frame = command(voter, meeting, "vote", topicId=topic)
            count(voter, topic, 1, frame["board"]["seq"])
    frame = command(voters[0], meeting, "unvote", topicId=topics[0])
    count(voters[0], topics[0], -1, frame["board"]["seq"])
    # Over the WebSocket: the ack is the acknowledgement; the process dies right after the last one.
    sockets = [Live(server, meeting, voter, f"voter{n}") for n, voter in enumerate(voters)]
    try:
        for round_ in range(2):
            for n, (voter, live) in enumerate(zip(voters, sockets)):
                topic = topics[(n + round_) % len(topics)]
                reply = live.command({"type": "vote", "topicId": topic})
                assert reply["type"] == "ack", reply
                count(voter, topic, 1, reply["seq"])
        server.kill()
    finally:
        for live in sockets:
            live.close()

    restarted = start_server(tmp_data_dir)
    board = rebind(admin, restarted).client.api("GET", meeting.api, expect=200)["board"]
    assert {t["id"]: t["votes"] for t in board["topics"]} == expected
    assert board["seq"] == last_seq, "a change after the last acknowledged one, or one lost"
    for voter in voters:
        me = rebind(voter, restarted).client.api("GET", meeting.api, expect=200)["me"]
        assert me["votes"] == mine[voter.email], voter.name
        assert me["votesLeft"] == 6 - sum(mine[voter.email].values())


# --------------------------------------------------------------------------------------------
# hourglass migrate-data
# --------------------------------------------------------------------------------------------

def migrate(source: str, target: str) -> subprocess.CompletedProcess:
    return run_cli("migrate-data", "--from", source, "--to", target, "--json")


def report_of(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, f"migrate-data failed ({result.returncode}): {result.stderr}\n{result.stdout}"
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("{")]
    assert len(lines) == 1, f"expected one JSON line on stdout: {result.stdout!r}"
    report = json.loads(lines[0])
    assert set(report["counts"]) == set(TABLES), report
    assert isinstance(report["checksum"], str) and len(report["checksum"]) == 64, report
    return report


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}


def postgres_counts(url: str) -> dict[str, int]:
    return {table: int(psql(url, f"SELECT count(*) FROM {table}")) for table in TABLES}


def readable(frame: dict) -> dict:
    """What must survive a migration: the board (minus who is connected) and the viewer's own part."""
    board = dict(frame["board"])
    board.pop("present", None)
    return {"board": board, "me": frame["me"]}


@pytest.fixture
def installation(tmp_data_dir, start_server):
    """A SQLite installation with a bit of everything, its server stopped; returns what was made."""
    server = start_server(tmp_data_dir, extra_args=["--allow-private-webhooks"])
    admin = set_up_admin([server])
    olga, mia, vera = (sign_up(server, name) for name in ("Olga Owner", "Mia Member", "Vera Voter"))

    # A public space with a series whose first meeting ended with two topics carried over.
    first = make_meeting(admin)
    t1, t2, t3 = propose(olga, first, "Carried one"), propose(mia, first, "Discussed"), propose(vera, first, "Carried two")
    command(vera, first, "vote", topicId=t1)
    command(vera, first, "vote", topicId=t2)
    command(vera, first, "vote", topicId=t2)
    command(mia, first, "vote", topicId=t3)
    assert command(admin, first, "startTopic", topicId="")["board"]["clock"]["topicId"] == t2
    command(admin, first, "endTopic")
    ended = command(admin, first, "endMeeting")["board"]
    assert ended["meeting"]["status"] == "ended"
    assert sorted(t["status"] for t in ended["topics"]) == ["carriedOver", "carriedOver", "done"]
    dates = [m["date"] for m in admin.client.api("GET", f"/api/spaces/{first.space}/series/{first.series}", expect=200)["meetings"]]
    assert len(dates) == 2 and first.date in dates, dates
    second = Meeting(first.space, first.series, next(d for d in dates if d != first.date), first.settings)
    carried = admin.client.api("GET", second.api, expect=200)["board"]["topics"]
    assert sorted(t["title"] for t in carried) == ["Carried one", "Carried two"] and all(t["carriedOver"] for t in carried)
    command(vera, second, "vote", topicId=next(t["id"] for t in carried if t["title"] == "Carried one"))

    # A private space with a member, a series and a vote.
    private = make_meeting(olga, visibility="private")
    olga.client.api("POST", f"/api/spaces/{private.space}/members", {"email": mia.email, "role": "member"}, expect=200)
    u1 = propose(mia, private, "Members only")
    command(olga, private, "vote", topicId=u1)
    send_notes(server, private.live, mia, "migrate", [
        {"clientSeq": 1, "kind": "create", "bullet": "moved", "parent": "meeting", "order": "V", "text": ""},
        {"clientSeq": 2, "kind": "text", "bullet": "moved", "rev": 0, "op": ["Notes move too: ünïcödé 🙂"]}])

    # Comments, watches, preferences, a webhook: the notification tables move too.
    comment = mia.client.api("POST", f"/api/spaces/{private.space}/comments", {"topicId": u1, "body": "Members only, indeed"}, expect=201)
    mia.client.request("PATCH", f"/api/spaces/{private.space}/comments/{comment['id']}", json_body={"body": "Members only, edited"})
    olga.client.api("POST", f"/api/spaces/{private.space}/webhooks", {"url": "http://127.0.0.1:9/hook", "format": "generic"}, expect=201)
    vera.client.api("PUT", "/api/me/preferences", {"email": "daily"}, expect=200)
    admin.client.api("POST", f"/api/spaces/{first.space}/watches", {"kind": "space", "target": admin.client.api("GET", f"/api/spaces/{first.space}", expect=200)["space"]["id"]}, expect=200)

    expected = {"users": 4, "spaces": 2, "memberships": 3, "series": 2, "meetings": 3, "topics": 6, "votes": 5,
                "bullets": 1, "note_ops": 2, "notes_heads": 1, "comments": 1, "comment_edits": 1, "preferences": 1, "webhooks": 1}
    # What each person sees, to compare after the move.
    views = {}
    for person in (admin, olga, mia, vera):
        for meeting in (first, second, private):
            response = person.client.get(meeting.api)
            views[(person.email, meeting.api)] = readable(response.json()) if response.status == 200 else response.status
            notes = person.client.get(meeting.api + "/notes")
            views[(person.email, meeting.api + "/notes")] = notes.json()["bullets"] if notes.status == 200 else notes.status
    assert views[(mia.email, private.api + "/notes")][0]["text"] == "Notes move too: ünïcödé 🙂"
    assert terminate_gracefully(server) == 0
    path = tmp_data_dir / "hourglass.sqlite"
    counts = sqlite_counts(path)
    assert {table: counts[table] for table in expected} == expected, "the source does not hold what the test made"
    # Made by the server itself: proposers' and the editor's automatic watches, the events and what the worker made of them.
    assert counts["watches"] >= 6 and counts["notify_events"] >= 2, counts
    return {"path": path, "people": [admin, olga, mia, vera], "meetings": [first, second, private], "views": views,
            "counts": counts}


def assert_same_installation(server: Server, installation: dict) -> None:
    for person in installation["people"]:
        fresh = sign_in(server, person)
        for meeting in installation["meetings"]:
            response = fresh.client.get(meeting.api)
            seen = readable(response.json()) if response.status == 200 else response.status
            assert seen == installation["views"][(person.email, meeting.api)], f"{person.name} on {meeting.api}"
            notes = fresh.client.get(meeting.api + "/notes")
            seen = notes.json()["bullets"] if notes.status == 200 else notes.status
            assert seen == installation["views"][(person.email, meeting.api + "/notes")], f"{person.name} on the notes of {meeting.api}"
        # Sessions are not copied: the old one is unknown here.
        assert server.client(person.token).get("/api/me").status == 401
    assert SETUP_NOTICE not in server.client().get("/").text
    assert not server.setup_tokens(), server.log()


def test_migrate_sqlite_to_postgres_and_back(installation, fresh_database, start_server, tmp_path):
    source = f"sqlite:{installation['path']}"
    database = fresh_database()

    there = report_of(migrate(source, database))
    assert there["counts"] == installation["counts"], there
    assert postgres_counts(database) == installation["counts"]

    copy = tmp_path / "copy-data" / "hourglass.sqlite"  # a data directory a server can start on
    back = report_of(migrate(database, f"sqlite:{copy}"))
    assert back["counts"] == installation["counts"], back
    assert back["checksum"] == there["checksum"], "the round trip changed the data"
    assert sqlite_counts(copy) == installation["counts"]

    # A server on the PostgreSQL copy shows the same boards to the same people.
    on_postgres = start_server(database=database)
    assert_same_installation(on_postgres, installation)
    # A vote there works (the copy is a working installation, not just rows).
    vera = sign_in(on_postgres, installation["people"][3])
    second = installation["meetings"][1]
    topic = next(t for t in vera.client.api("GET", second.api, expect=200)["board"]["topics"] if t["title"] == "Carried two")
    after = command(vera, second, "vote", topicId=topic["id"])
    assert votes_of(after, topic["id"]) == topic["votes"] + 1

    # And a server on the SQLite copy made from PostgreSQL does too.
    assert_same_installation(start_server(copy.parent), installation)


def test_migrate_refuses_a_target_that_is_not_empty(installation, fresh_database, tmp_path):
    source = f"sqlite:{installation['path']}"
    database = fresh_database()
    report_of(migrate(source, database))
    before = postgres_counts(database)

    again = migrate(source, database)
    assert again.returncode != 0, again
    assert "empty" in again.stderr, again.stderr
    assert postgres_counts(database) == before, "a refused migration wrote into the target"

    copy = tmp_path / "copy.sqlite"
    report_of(migrate(database, f"sqlite:{copy}"))
    into_sqlite = migrate(database, f"sqlite:{copy}")
    assert into_sqlite.returncode != 0 and "empty" in into_sqlite.stderr, into_sqlite
    assert sqlite_counts(copy) == before


def test_migrate_refuses_the_same_store_and_bad_locations(installation):
    source = f"sqlite:{installation['path']}"
    same = migrate(source, source)
    assert same.returncode != 0, same
    assert "same" in same.stderr, same.stderr
    for bad in ("mysql://localhost/db", str(installation["path"]), ""):
        result = migrate(source, bad)
        assert result.returncode != 0, (bad, result)
        assert result.stderr.strip(), (bad, result)
    # The same file spelt differently is refused too (it is not empty), and left alone.
    spelt = migrate(source, f"sqlite:{installation['path'].parent}/./{installation['path'].name}")
    assert spelt.returncode != 0, spelt
    assert sqlite_counts(installation["path"]) == installation["counts"], "the source was changed"


def test_migrate_from_a_missing_sqlite_file_fails(tmp_path):
    """A mistyped --from must not 'copy' an empty installation (and must not create the file)."""
    missing = tmp_path / "typo" / "hourglass.sqlite"
    target = tmp_path / "target.sqlite"
    result = migrate(f"sqlite:{missing}", f"sqlite:{target}")
    assert result.returncode != 0, f"migrating from a file that does not exist succeeded: {result.stdout}"
    assert result.stderr.strip()
    assert not missing.exists(), "migrate-data created the source it was asked to read"
