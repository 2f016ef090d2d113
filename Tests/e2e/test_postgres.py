"""PostgreSQL: two `hourglass serve` instances on one database, and the API on PostgreSQL.

Needs HOURGLASS_TEST_POSTGRES_URL (a superuser URL); skipped without it. Locally:
    scripts/with-postgres.sh /tmp/venv/bin/python -m pytest Tests/e2e/test_postgres.py -q
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

from websockets.exceptions import ConnectionClosed

from conftest import (Client, Meeting, Person, Server, assert_problem, make_meeting, psql, run_cli, set_up_admin,
                      sign_up, wait_until)
from test_live import TIMEOUT, Live, votes_of

MIGRATION_LOG = re.compile(r"Applying PostgreSQL migration (\S+)")


def propose(client: Client, meeting: Meeting, title: str) -> str:
    frame = client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": title}, expect=200)
    return next(t["id"] for t in frame["board"]["topics"] if t["title"] == title)


def on(server: Server, person: Person) -> Client:
    """The same person (same session) talking to another instance."""
    return server.client(person.token)


def wait_closed(live: Live) -> None:
    """Reads until the server side of the socket is gone (the instance was killed)."""
    try:
        while True:
            live._next(TIMEOUT)
    except ConnectionClosed:
        return
    except TimeoutError as error:
        raise AssertionError(f"{live.label}: the socket stayed open after its instance was killed") from error


def start_together(start_server, database: str, count: int = 2) -> list[Server]:
    """Starts `count` instances on one database at the same moment, then waits for all of them."""
    instances = [start_server(database=database, wait=False) for _ in range(count)]
    for instance in instances:
        instance.spawn()
    for instance in instances:
        try:
            instance.wait_healthy()
        except AssertionError as error:
            logs = "\n".join(f"--- instance on port {i.port}:\n{i.log()}" for i in instances)
            raise AssertionError(f"{error}\n{logs}") from None
    return instances


# --------------------------------------------------------------------------------------------

def test_two_instances_share_one_database(start_server, fresh_database):
    database = fresh_database()
    a, b = start_together(start_server, database)

    # Both came up healthy and ready, and the migrations ran exactly once between them.
    for instance in (a, b):
        assert instance.client().get("/healthz").text == "ok"
        ready = instance.client().get("/readyz")
        assert ready.status == 200, ready
    applied = MIGRATION_LOG.findall(a.log() + b.log())
    assert applied, f"no migration was logged:\n{a.log()}\n{b.log()}"
    assert len(applied) == len(set(applied)), f"a migration ran twice: {applied}"
    assert sorted(psql(database, "SELECT name FROM schema_migrations").split()) == sorted(applied)

    # Both saw the empty database and printed a setup link; only the token stored last works.
    wait_until(lambda: a.setup_tokens() and b.setup_tokens(), message="a setup link from each instance")
    admin = set_up_admin([a, b])
    tokens = a.setup_tokens() + b.setup_tokens()
    for token in tokens:  # none works any more
        response = a.client().post("/api/setup", json_body={"token": token, "name": "Late", "email": "late@example.com",
                                                            "password": "correct horse battery"})
        assert response.status in (403, 409, 410), response
    for instance in (a, b):
        assert "no administrator yet" not in instance.client().get("/").text, f"setup notice still shown on {instance.port}"

    # The admin's session (made on one instance) works on the other.
    assert on(a, admin).api("GET", "/api/me", expect=200)["email"] == admin.email
    assert on(b, admin).api("GET", "/api/me", expect=200)["email"] == admin.email
    admin.client = on(a, admin)

    meeting = make_meeting(admin)  # default settings: 3 votes each, 10-minute time boxes
    first = propose(on(a, admin), meeting, "Shared database")
    second = propose(on(b, admin), meeting, "Second instance")
    user = sign_up(b, "Una Instance")  # signed up on B, votes through A

    on_a = Live(a, meeting, user, "user@A")
    on_b = Live(b, meeting, admin, "admin@B")
    try:
        on_a.board(lambda f: votes_of(f, first) == 0 and votes_of(f, second) == 0, "initial board on A")
        assert on_b.board(what="initial board on B")["me"]["canFacilitate"] is True

        # A vote through A's socket reaches B's socket.
        voted = on_a.command({"type": "vote", "topicId": first})
        assert voted["type"] == "ack", voted
        seen_on_b = on_b.board(lambda f: votes_of(f, first) == 1, "the vote made on A")
        seen_on_a = on_a.board(lambda f: votes_of(f, first) == 1, "own vote")
        assert seen_on_b["board"]["seq"] == seen_on_a["board"]["seq"] == voted["seq"], (seen_on_a, seen_on_b, voted)
        assert seen_on_a["me"]["votes"] == {first: 1} and seen_on_b["me"]["votes"] == {}

        # The facilitator starts the topic through B's socket; A's client sees the same clock.
        started = on_b.command({"type": "startTopic", "topicId": ""})
        assert started["type"] == "ack", started
        with_clock = lambda f: f["board"].get("clock") is not None  # noqa: E731
        clock_b = on_b.board(with_clock, "the clock on B")
        clock_a = on_a.board(with_clock, "the clock from B on A")
        assert clock_a["board"]["clock"]["topicId"] == clock_b["board"]["clock"]["topicId"] == first
        assert clock_a["board"]["clock"]["phase"] == "discussing"
        assert clock_a["board"]["clock"]["deadline"] == clock_b["board"]["clock"]["deadline"]
        assert clock_a["board"]["seq"] == clock_b["board"]["seq"] == started["seq"] > voted["seq"]
        deadline, seq = clock_b["board"]["clock"]["deadline"], started["seq"]

        # While discussing, a re-vote is refused on either instance.
        for live in (on_a, on_b):
            refused = live.command({"type": "revote", "thumb": "up"})
            assert refused["type"] == "error" and refused["code"] == "conflict", (live.label, refused)

        # Plain HTTP on either instance reads the same board.
        for instance in (a, b):
            frame = on(instance, admin).api("GET", meeting.api, expect=200)
            assert frame["board"]["seq"] == seq and frame["board"]["clock"]["deadline"] == deadline, (instance.port, frame)

        # Instance A dies without any shutdown; its client reconnects to B.
        a.kill()
        wait_closed(on_a)
        on_a.close()
        moved = Live(b, meeting, user, "user@B")
        try:
            frame = moved.board(what="board after moving to B")
            assert frame["board"]["seq"] == seq, frame["board"]["seq"]
            assert votes_of(frame, first) == 1 and frame["me"]["votes"] == {first: 1}, frame
            assert frame["me"]["votesLeft"] == 2
            clock = frame["board"]["clock"]
            assert clock is not None and clock["topicId"] == first and clock["deadline"] == deadline, clock
            assert [t["status"] for t in frame["board"]["topics"] if t["id"] == first] == ["discussing"]

            # Further commands on B work and reach the other socket there.
            again = moved.command({"type": "vote", "topicId": second})
            assert again["type"] == "ack" and again["seq"] == seq + 1, again
            on_b.board(lambda f: votes_of(f, second) == 1 and f["board"]["seq"] == seq + 1, "the vote made after the failover")
            refused = moved.command({"type": "revote", "thumb": "down"})
            assert refused["type"] == "error" and refused["code"] == "conflict", refused
            ended = on_b.command({"type": "endTopic"})
            assert ended["type"] == "ack", ended
            moved.board(lambda f: f["board"]["clock"] is None, "the topic ended by the facilitator")
        finally:
            moved.close()
    finally:
        on_a.close()
        on_b.close()
    assert b.process.poll() is None, f"instance B died:\n{b.log()}"


def test_many_instances_start_at_once(start_server, fresh_database):
    database = fresh_database()
    instances = start_together(start_server, database, count=4)
    applied = MIGRATION_LOG.findall("".join(i.log() for i in instances))
    assert applied and len(applied) == len(set(applied)), f"migrations not applied exactly once: {applied}"
    for instance in instances:
        assert instance.client().get("/readyz").status == 200
    wait_until(lambda: all(i.setup_tokens() for i in instances), message="a setup link from each instance")
    admin = set_up_admin(instances)
    for instance in instances:
        assert "no administrator yet" not in instance.client().get("/").text
    for instance in instances:
        assert on(instance, admin).api("GET", "/api/me", expect=200)["isAdmin"] is True


def test_concurrent_commands_on_two_instances_are_serialized(start_server, fresh_database):
    """Commands racing on both instances: none is lost, each gets its own seq, and one person's
    vote budget holds even when their votes arrive at both instances at once."""
    database = fresh_database()
    a, b = start_together(start_server, database)
    admin = set_up_admin([a, b])
    meeting = make_meeting(admin, votesPerParticipant="3", maxVotesPerTopic="3")
    topics = [propose(admin.client, meeting, f"Race {n}") for n in range(3)]
    start_seq = admin.client.api("GET", meeting.api, expect=200)["board"]["seq"]
    voters = [sign_up(a if n % 2 else b, f"Racer {n}") for n in range(6)]

    def vote(job: tuple[Client, str]) -> tuple[int, int | None]:
        client, topic = job
        response = client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": topic})
        return response.status, response.json()["board"]["seq"] if response.status == 200 else None

    # Everyone votes twice, through both instances at once.
    jobs = [(on(instance, voter), topics[(n + k) % 3]) for n, voter in enumerate(voters) for k, instance in enumerate((a, b))]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(vote, jobs))
    assert [status for status, _ in results] == [200] * len(jobs), results
    seqs = sorted(seq for _, seq in results)
    assert seqs == list(range(start_seq + 1, start_seq + 1 + len(jobs))), f"duplicate or missing seq: {seqs}"

    # One person, five votes at once (budget three), spread over both instances.
    greedy = sign_up(a, "Greedy Racer")
    jobs = [(on(a if n % 2 else b, greedy), topics[n % 3]) for n in range(5)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(vote, jobs))
    assert sorted(status for status, _ in results) == [200, 200, 200, 409, 409], results

    frame = on(b, greedy).api("GET", meeting.api, expect=200)
    assert sum(frame["me"]["votes"].values()) == 3 and frame["me"]["votesLeft"] == 0, frame["me"]
    assert sum(t["votes"] for t in frame["board"]["topics"]) == 2 * len(voters) + 3
    assert frame["board"]["seq"] == start_seq + 2 * len(voters) + 3
    assert on(a, greedy).api("GET", meeting.api, expect=200)["board"] == frame["board"]


def test_presence_spans_instances(start_server, fresh_database):
    database = fresh_database()
    a, b = start_together(start_server, database)
    admin = set_up_admin([a, b])
    meeting = make_meeting(admin)
    ann, ben = sign_up(a, "Ann Alpha"), sign_up(b, "Ben Beta")
    names = lambda f: sorted(p["name"] for p in f["board"]["present"])  # noqa: E731
    on_a = Live(a, meeting, ann, "ann@A")
    on_b = Live(b, meeting, ben, "ben@B")
    try:
        on_a.board(lambda f: names(f) == ["Ann Alpha", "Ben Beta"], "Ben (on B) in A's presence list")
        on_b.board(lambda f: names(f) == ["Ann Alpha", "Ben Beta"], "Ann (on A) in B's presence list")
        on_a.close()
        on_b.board(lambda f: names(f) == ["Ben Beta"], "Ann leaving A")
    finally:
        on_a.close()
        on_b.close()


def test_sigterm_is_graceful_on_postgres(start_server, fresh_database):
    """`docker stop` waits 10 s before SIGKILL; a PostgreSQL instance must be done well before that."""
    instance = start_server(database=fresh_database())
    set_up_admin([instance])
    instance.process.terminate()
    try:
        status = instance.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        instance.kill()
        raise AssertionError(f"still running 5 s after SIGTERM; output:\n{instance.log()[-3000:]}") from None
    assert status == 0, instance.log()


def test_restarted_instance_rejoins(start_server, fresh_database):
    """An instance started later on the same database (migrations already applied) serves the same data
    and hears about changes made elsewhere."""
    database = fresh_database()
    (a,) = start_together(start_server, database, count=1)
    admin = set_up_admin([a])
    meeting = make_meeting(admin)
    topic = propose(admin.client, meeting, "Before the second instance")

    b = start_server(database=database)
    assert not b.setup_tokens(), "an instance on a set-up database must not print a setup link"
    assert not MIGRATION_LOG.findall(b.log()), "the migrations were applied again"
    watcher = Live(b, meeting, admin, "admin@B")
    try:
        watcher.board(lambda f: votes_of(f, topic) == 0, "initial board on B")
        voter = sign_up(a, "Vic Voter")
        voter.client.api("POST", meeting.commands, {"type": "vote", "topicId": topic}, expect=200)
        watcher.board(lambda f: votes_of(f, topic) == 1, "a vote made over HTTP on A")
    finally:
        watcher.close()


def test_api_behaves_the_same_on_postgres(start_server, fresh_database):
    database = fresh_database()
    instance = start_server(database=database)
    admin = set_up_admin([instance])
    owner, member, outsider = (sign_up(instance, name) for name in ("Pia Owner", "Max Member", "Otto Outsider"))

    # Duplicate email (case-insensitive) is a conflict.
    response = instance.client().post("/api/signup", json_body={"name": "Again", "email": owner.email.upper(),
                                                                "password": "correct horse battery"})
    assert_problem(response, 409)
    signin = instance.client().post("/api/signin", json_body={"email": owner.email, "password": owner.password})
    assert signin.status == 200, signin

    meeting = make_meeting(owner, visibility="private", votesPerParticipant="2", maxVotesPerTopic="1")
    owner.client.api("POST", f"/api/spaces/{meeting.space}/members", {"email": member.email, "role": "member"}, expect=200)

    # A private space looks missing to outsiders and signed-out visitors.
    missing = instance.client().get("/api/spaces/no-such-space-here").json()
    for client in (outsider.client, instance.client()):
        for path in (f"/api/spaces/{meeting.space}", meeting.api):
            problem = assert_problem(client.get(path), 404)
            assert problem["detail"] == missing["detail"], problem
        assert meeting.space not in client.get("/").text
    assert admin.client.get(f"/api/spaces/{meeting.space}").status == 200

    one, two, three = (propose(member.client, meeting, title) for title in ("One", "Two", "Three"))
    member.client.api("POST", meeting.commands, {"type": "vote", "topicId": one}, expect=200)
    assert_problem(member.client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": one}), 409)
    frame = member.client.api("POST", meeting.commands, {"type": "vote", "topicId": two}, expect=200)
    assert frame["me"]["votesLeft"] == 0
    problem = assert_problem(member.client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": three}), 409)
    assert "vote" in problem["detail"].lower()
    assert_problem(outsider.client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": three}), 404)
    assert_problem(member.client.request("POST", meeting.commands, json_body={"type": "startTopic", "topicId": ""}), 403)
    assert_problem(member.client.request("POST", meeting.commands, json_body={"type": "revote", "thumb": "up"}), 409)

    board = owner.client.api("GET", meeting.api, expect=200)["board"]
    assert {t["title"]: t["votes"] for t in board["topics"]} == {"One": 1, "Two": 1, "Three": 0}
    assert board["seq"] == 5, "three proposals and two votes are five changes"


def test_user_add_on_postgres(start_server, fresh_database):
    database = fresh_database()
    created = run_cli("user", "add", "--admin", "--database", database, "--email", "pg-admin@example.com",
                      "--name", "Pg Admin", stdin="correct horse battery\n")
    assert created.returncode == 0, created
    duplicate = run_cli("user", "add", "--database", database, "--email", "PG-ADMIN@example.com", "--name", "Again",
                        stdin="correct horse battery\n")
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr, duplicate
    instance = start_server(database=database)
    assert not instance.setup_tokens(), instance.log()
    signin = instance.client().post("/api/signin", json_body={"email": "pg-admin@example.com", "password": "correct horse battery"})
    assert signin.status == 200, signin
    assert signin.json()["user"]["isAdmin"] is True
    assert "no administrator yet" not in instance.client().get("/").text


def test_notes_typed_on_two_instances_converge(start_server, fresh_database):
    """Two people on different instances type into the same bullet at the same time: both see the
    same changes in the same order (decided by the database) and end with the same text; the
    instances serve identical stored notes."""
    import json
    from concurrent.futures import ThreadPoolExecutor as Pool

    from websockets.sync.client import connect

    a, b = start_together(start_server, fresh_database())
    admin = set_up_admin([a, b])
    meeting = make_meeting(admin)
    ann = sign_up(b, "Ann Alpha")

    def hello(ws, client, since=None):
        """Starts the notes stream; returns the entries of the catch-up (the other person's change
        may already be committed by the time this connection says hello)."""
        ws.send(json.dumps({"type": "hello", "client": client, "since": since}))
        caught_up = []
        while True:
            frame = json.loads(ws.recv(timeout=TIMEOUT))
            if frame["type"] == "notes":
                caught_up += frame["changes"]
            if frame["type"] in ("notesSnapshot", "notesReady"):
                return caught_up

    with connect(a.ws_base + meeting.live, additional_headers={"Cookie": admin.cookie_header}) as ws:
        hello(ws, "maker")
        ws.send(json.dumps({"type": "notes", "id": "c", "client": "maker", "changes": [
            {"clientSeq": 1, "kind": "create", "bullet": "shared", "parent": "meeting", "order": "V", "text": "🙂"}]}))
        while json.loads(ws.recv(timeout=TIMEOUT))["type"] != "notesAck":
            pass

    def type_into(server, person, client, text):
        with connect(server.ws_base + meeting.live, additional_headers={"Cookie": person.cookie_header}) as ws:
            seen = hello(ws, client, since=1)
            ws.send(json.dumps({"type": "notes", "id": "t", "client": client, "changes": [
                {"clientSeq": 1, "kind": "text", "bullet": "shared", "rev": 0, "op": [text, 2]}]}))
            while len(seen) < 2:
                frame = json.loads(ws.recv(timeout=TIMEOUT))
                assert frame["type"] != "error", frame
                if frame["type"] == "notes":
                    seen += frame["changes"]
            return seen

    with Pool(2) as pool:
        on_a = pool.submit(type_into, a, admin, "on-a", "Hello ")
        on_b = pool.submit(type_into, b, ann, "on-b", "World ")
        seen_a, seen_b = on_a.result(), on_b.result()
    assert [e["seq"] for e in seen_a] == [e["seq"] for e in seen_b] == [2, 3]
    assert [e["change"]["op"] for e in seen_a] == [e["change"]["op"] for e in seen_b]
    stored_a = a.client(admin.token).api("GET", meeting.api + "/notes", expect=200)
    stored_b = b.client(ann.token).api("GET", meeting.api + "/notes", expect=200)
    assert stored_a == stored_b
    text = stored_a["bullets"][0]["text"]
    # Both changes are in the stored bullet (an instance that loaded the notes while the other
    # committed once stored "World 🙂": its room had the new head but the old bullets).
    assert text in ("Hello World 🙂", "World Hello 🙂"), (text, seen_a)
