"""The JSON API and the pages over real HTTP, including hostile input."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from openapi_spec_validator import validate
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import PASSWORD, Meeting, Person, assert_problem, make_meeting, sign_up, unique_email


def propose(person: Person, meeting: Meeting, title: str, tag: str = "inform", **extra: str):
    return person.client.request("POST", meeting.commands, json_body={"type": "propose", "tag": tag, "title": title, **extra})


def topic_id(frame: dict, title: str) -> str:
    for topic in frame["board"]["topics"]:
        if topic["title"] == title:
            return topic["id"]
    raise AssertionError(f"no topic {title!r} in {frame['board']['topics']!r}")


# --------------------------------------------------------------------------------------------
# Health, OpenAPI, headers
# --------------------------------------------------------------------------------------------

def test_healthz(server):
    response = server.client().get("/healthz")
    assert response.status == 200, response
    assert response.text == "ok"


def test_readyz(server):
    response = server.client().get("/readyz")
    assert response.status == 200, response


def test_openapi_document_is_valid(server):
    response = server.client().get("/openapi.json")
    assert response.status == 200, response
    assert (response.header("Content-Type") or "").startswith("application/json")
    document = response.json()
    validate(document)  # raises on an invalid OpenAPI document
    assert "/api/spaces/{space}/series/{series}/meetings/{date}/commands" in document["paths"]
    for path in ("/api/inbox", "/api/me/preferences", "/api/spaces/{space}/comments", "/api/spaces/{space}/watches", "/api/spaces/{space}/webhooks"):
        assert path in document["paths"], path


@pytest.mark.parametrize("path", ["/", "/signin", "/signup"])
def test_pages_have_strict_csp(server, path):
    response = server.client().get(path)
    assert response.status == 200, response
    csp = response.header("Content-Security-Policy")
    assert csp, f"no CSP on {path}: {dict(response.headers)!r}"
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert re.search(r"(^|;)\s*(script-src|default-src)\s", csp), csp
    assert response.header("X-Content-Type-Options") == "nosniff"


def test_meeting_page_has_strict_csp(server, admin, meeting):
    response = admin.client.get(meeting.page)
    assert response.status == 200, response
    csp = response.header("Content-Security-Policy")
    assert csp and "'unsafe-inline'" not in csp, csp
    # No inline script at all: the only script is the same-origin module.
    scripts = re.findall(r"<script\b[^>]*>", response.text)
    assert scripts, "the meeting page should load board.js"
    for tag in scripts:
        assert "src=\"/public/" in tag, tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", response.text), "inline script content found"
    assert not re.search(r"\son[a-z]+\s*=", response.text), "inline event handler found"


# --------------------------------------------------------------------------------------------
# Accounts and auth
# --------------------------------------------------------------------------------------------

def test_signup_signin_me_and_bearer(server):
    email = unique_email("bea")
    person = sign_up(server, "Bea Bearer", email)
    me = server.client(person.token, bearer=True).api("GET", "/api/me", expect=200)
    assert me["email"] == email and me["name"] == "Bea Bearer"
    me = person.client.api("GET", "/api/me", expect=200)
    assert me["email"] == email

    signin = server.client().post("/api/signin", json_body={"email": email.upper(), "password": PASSWORD})
    assert signin.status == 200, signin
    assert signin.json()["token"] != person.token, "a sign-in must start a fresh session"
    assert "hg_session=" in (signin.header("Set-Cookie") or "")
    assert "HttpOnly" in signin.header("Set-Cookie")

    wrong = server.client().post("/api/signin", json_body={"email": email, "password": "wrong password"})
    assert_problem(wrong, 401)


def test_me_requires_sign_in(server):
    assert_problem(server.client().get("/api/me"), 401)
    assert_problem(server.client("not-a-real-token").get("/api/me"), 401)


def test_setup_token_is_one_time(server, admin):
    token = server.setup_token()
    response = server.client().post("/api/setup", json_body={"token": token, "name": "Mallory", "email": unique_email("mal"),
                                                             "password": PASSWORD})
    assert response.status in (403, 409, 410), response
    assert_problem(response, response.status)


def test_duplicate_email_conflicts(server):
    email = unique_email("dup")
    sign_up(server, "First", email)
    response = server.client().post("/api/signup", json_body={"name": "Second", "email": email, "password": PASSWORD})
    assert_problem(response, 409)


def test_signup_validation(server):
    response = server.client().post("/api/signup", json_body={"name": "Shorty", "email": unique_email(), "password": "short"})
    assert_problem(response, 422)
    response = server.client().post("/api/signup", json_body={"name": "No mail", "email": "not-an-email", "password": PASSWORD})
    assert_problem(response, 422)
    response = server.client().post("/api/signup", json_body={"name": "", "email": unique_email(), "password": PASSWORD})
    assert_problem(response, 422)


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/path", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_signin_redirect_stays_on_site(server, target):
    email = unique_email("redir")
    sign_up(server, "Red Irect", email)
    response = server.client().post("/signin", form={"email": email, "password": PASSWORD, "next": target})
    assert response.status == 303, response
    assert response.header("Location") == "/", response.header("Location")


def test_signin_redirect_keeps_local_path(server):
    email = unique_email("local")
    sign_up(server, "Lo Cal", email)
    response = server.client().post("/signin", form={"email": email, "password": PASSWORD, "next": "/spaces/new"})
    assert response.status == 303, response
    assert response.header("Location") == "/spaces/new"
    assert "hg_session=" in (response.header("Set-Cookie") or "")


def test_signin_form_wrong_password_rerenders(server):
    email = unique_email("wrong")
    sign_up(server, "Wrong Pass", email)
    response = server.client().post("/signin", form={"email": email, "password": "nope nope nope"})
    assert response.status == 401, response
    assert 'class="notice"' in response.text


def test_cross_origin_form_post_is_refused(server, admin, meeting):
    response = admin.client.post(meeting.page_commands, form={"type": "propose", "tag": "inform", "title": "CSRF"},
                                 headers={"Origin": "http://evil.example"})
    assert response.status == 403, response
    board = admin.client.api("GET", meeting.api, expect=200)
    assert not [t for t in board["board"]["topics"] if t["title"] == "CSRF"]


# --------------------------------------------------------------------------------------------
# Hostile bodies
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]", b'"just a string"', b'{"type": "propose", "title": ', b""])
def test_malformed_json_is_400(server, admin, meeting, body):
    response = admin.client.post(meeting.commands, body=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_non_string_field_is_400(server, admin, meeting):
    response = admin.client.post(meeting.commands, json_body={"type": "propose", "tag": "inform", "title": {"nested": True}})
    assert_problem(response, 400)


def test_malformed_json_on_signup_is_400(server):
    response = server.client().post("/api/signup", body=b"{\"name\": ", headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


@pytest.mark.parametrize("body", [b"\xff\xfe", b'{"type": "propose", "tag": "inform", "title": "\xc3\x28"}', b"\xed\xa0\x80"])
def test_invalid_utf8_is_400(server, admin, meeting, body):
    response = admin.client.post(meeting.commands, body=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_invalid_utf8_form_is_400(server, admin, meeting):
    response = admin.client.post(meeting.page_commands, body=b"type=propose&tag=inform&title=\xff\xfe",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 400, response


def test_two_megabyte_body_is_413(server, admin, meeting):
    body = json.dumps({"type": "propose", "tag": "inform", "title": "x", "description": "y" * (2 * 1024 * 1024)}).encode()
    response = admin.client.post(meeting.commands, body=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 413)
    # The server is still fine afterwards.
    assert server.client().get("/healthz").status == 200


def test_two_megabyte_signup_is_413(server):
    body = b'{"name": "' + b"n" * (2 * 1024 * 1024) + b'"}'
    response = server.client().post("/api/signup", body=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 413)


def test_ten_megabyte_title_is_413(server, admin, meeting):
    response = propose(admin, meeting, "t" * (10 * 1024 * 1024))
    assert_problem(response, 413)
    board = admin.client.api("GET", meeting.api, expect=200)
    assert board["board"]["topics"] == []


def test_body_just_under_limit_is_read(server, admin, meeting):
    # 900 KB is under the 1 MiB limit: it is read, then refused by validation (title too long), not by size.
    response = propose(admin, meeting, "t" * (900 * 1024))
    assert_problem(response, 422)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def test_propose_and_vote_round_trip(server, admin, meeting, make_user):
    response = propose(admin, meeting, "Async standups?", tag="ideation", description="Do we still need them?")
    assert response.status == 200, response
    frame = response.json()
    assert frame["type"] == "board" and isinstance(frame["serverNow"], int)
    topic = frame["board"]["topics"][0]
    assert topic["title"] == "Async standups?" and topic["tag"] == "ideation" and topic["votes"] == 0
    assert topic["proposerName"] == "Ada Admin"
    assert topic["id"] == topic["id"].upper(), "JSON UUIDs are uppercase"
    assert frame["me"]["canFacilitate"] is True

    voter = make_user("Val Voter")
    voted = voter.client.api("POST", meeting.commands, {"type": "vote", "topicId": topic["id"]}, expect=200)
    assert voted["board"]["topics"][0]["votes"] == 1
    assert voted["me"]["votes"] == {topic["id"]: 1}
    assert voted["me"]["votesLeft"] == int(meeting.settings["votesPerParticipant"]) - 1
    assert voted["me"]["canFacilitate"] is False

    unvoted = voter.client.api("POST", meeting.commands, {"type": "unvote", "topicId": topic["id"]}, expect=200)
    assert unvoted["board"]["topics"][0]["votes"] == 0
    again = voter.client.request("POST", meeting.commands, json_body={"type": "unvote", "topicId": topic["id"]})
    assert_problem(again, 409)


@pytest.mark.parametrize("title", ["", "   ", "\n\t"])
def test_empty_title_is_422(server, admin, meeting, title):
    assert_problem(propose(admin, meeting, title), 422)


def test_title_with_control_characters_is_422(server, admin, meeting):
    assert_problem(propose(admin, meeting, "bell\u0007"), 422)


def test_unknown_tag_is_422(server, admin, meeting):
    assert_problem(propose(admin, meeting, "Tagless", tag="nonsense"), 422)


def test_missing_fields_are_422(server, admin, meeting):
    assert_problem(admin.client.request("POST", meeting.commands, json_body={"type": "propose", "tag": "inform"}), 422)
    assert_problem(admin.client.request("POST", meeting.commands, json_body={"type": "vote"}), 422)
    assert_problem(admin.client.request("POST", meeting.commands, json_body={"title": "no type"}), 422)


def test_unknown_topic_is_404(server, admin, meeting):
    response = admin.client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": str(uuid.uuid4()).upper()})
    assert_problem(response, 404)
    response = admin.client.request("POST", meeting.commands, json_body={"type": "withdraw", "topicId": str(uuid.uuid4())})
    assert_problem(response, 404)


def test_malformed_topic_id_is_422(server, admin, meeting):
    response = admin.client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": "nope"})
    assert_problem(response, 422)


def test_topic_from_another_meeting_is_404(server, admin, meeting):
    other = make_meeting(admin)
    foreign = topic_id(propose(admin, other, "Elsewhere").json(), "Elsewhere")
    response = admin.client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": foreign})
    assert_problem(response, 404)


def test_votes_beyond_budget_are_409(server, admin, make_user):
    meeting = make_meeting(admin, votesPerParticipant="2", maxVotesPerTopic="1")
    first = topic_id(propose(admin, meeting, "One").json(), "One")
    frame = propose(admin, meeting, "Two").json()
    second = topic_id(frame, "Two")
    third = topic_id(propose(admin, meeting, "Three").json(), "Three")
    voter = make_user("Budget Bob")
    voter.client.api("POST", meeting.commands, {"type": "vote", "topicId": first}, expect=200)
    # At most one vote per topic.
    assert_problem(voter.client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": first}), 409)
    frame = voter.client.api("POST", meeting.commands, {"type": "vote", "topicId": second}, expect=200)
    assert frame["me"]["votesLeft"] == 0
    # The budget of two is used up.
    problem = assert_problem(voter.client.request("POST", meeting.commands, json_body={"type": "vote", "topicId": third}), 409)
    assert "vote" in problem["detail"].lower()
    board = admin.client.api("GET", meeting.api, expect=200)
    assert {t["title"]: t["votes"] for t in board["board"]["topics"]} == {"One": 1, "Two": 1, "Three": 0}


def test_revote_outside_revote_is_409(server, admin, meeting):
    assert_problem(admin.client.request("POST", meeting.commands, json_body={"type": "revote", "thumb": "up"}), 409)
    propose(admin, meeting, "Clocked")
    admin.client.api("POST", meeting.commands, {"type": "startTopic", "topicId": ""}, expect=200)
    # Still discussing, not in the re-vote.
    assert_problem(admin.client.request("POST", meeting.commands, json_body={"type": "revote", "thumb": "up"}), 409)
    assert_problem(admin.client.request("POST", meeting.commands, json_body={"type": "closeRevote"}), 409)


def test_bad_thumb_is_422(server, admin, meeting):
    assert_problem(admin.client.request("POST", meeting.commands, json_body={"type": "revote", "thumb": "maybe"}), 422)


@pytest.mark.parametrize("kind", ["explode", "advance", "", "PROPOSE", "x" * 5000])
def test_unknown_command_type_is_422(server, admin, meeting, kind):
    problem = assert_problem(admin.client.request("POST", meeting.commands, json_body={"type": kind}), 422)
    assert len(problem["detail"]) < 1000, "the error must not echo huge input"


def test_commands_require_sign_in(server, meeting):
    response = server.client().request("POST", meeting.commands, json_body={"type": "propose", "tag": "inform", "title": "Anon"})
    assert_problem(response, 401)


def test_facilitator_commands_are_403_for_participants(server, admin, meeting, make_user):
    propose(admin, meeting, "Facilitated")
    participant = make_user("Pat Participant")
    for command in ({"type": "startTopic", "topicId": ""}, {"type": "startMeeting"}, {"type": "endMeeting"},
                    {"type": "skip", "reason": "no"}, {"type": "extend"}, {"type": "endTopic"}):
        assert_problem(participant.client.request("POST", meeting.commands, json_body=command), 403)


def test_clock_starts_with_deadline(server, admin, meeting):
    propose(admin, meeting, "On the clock")
    frame = admin.client.api("POST", meeting.commands, {"type": "startTopic", "topicId": ""}, expect=200)
    clock = frame["board"]["clock"]
    assert clock is not None and clock["phase"] == "discussing"
    assert clock["topicId"] == topic_id(frame, "On the clock")
    assert clock["deadline"] > frame["serverNow"]
    assert frame["board"]["meeting"]["status"] == "live"
    # A second start while a topic is on the clock is a conflict.
    assert_problem(admin.client.request("POST", meeting.commands, json_body={"type": "startTopic", "topicId": ""}), 409)


def test_unknown_meeting_and_series_are_404(server, admin, meeting):
    assert_problem(admin.client.get(f"/api/spaces/{meeting.space}/series/{meeting.series}/meetings/1999-01-01"), 404)
    assert_problem(admin.client.get(f"/api/spaces/{meeting.space}/series/{meeting.series}/meetings/not-a-date"), 404)
    assert_problem(admin.client.get(f"/api/spaces/{meeting.space}/series/no-such-series"), 404)
    assert_problem(admin.client.get("/api/spaces/no-such-space-at-all"), 404)


def test_unknown_api_route_is_problem_json(server):
    assert_problem(server.client().get("/api/definitely/not/here"), 404)


# --------------------------------------------------------------------------------------------
# Form posts (no JavaScript)
# --------------------------------------------------------------------------------------------

def test_form_commands_redirect_back(server, admin, meeting):
    response = admin.client.post(meeting.page_commands, form={"type": "propose", "tag": "analysis", "title": "Via form"})
    assert response.status == 303, response
    assert response.header("Location").startswith(meeting.page), response.header("Location")
    board = admin.client.api("GET", meeting.api, expect=200)
    topic = topic_id(board, "Via form")
    response = admin.client.post(meeting.page_commands, form={"type": "vote", "topicId": topic})
    assert response.status == 303, response
    assert response.header("Location") == f"{meeting.page}#topic-{topic}"
    board = admin.client.api("GET", meeting.api, expect=200)
    assert board["board"]["topics"][0]["votes"] == 1


def test_form_command_error_rerenders_page_with_notice(server, admin, meeting):
    response = admin.client.post(meeting.page_commands, form={"type": "propose", "tag": "inform", "title": "   ",
                                                               "description": "kept <b>text</b>"})
    assert response.status == 422, response
    assert (response.header("Content-Type") or "").startswith("text/html")
    assert re.search(r'<p class="notice"[^>]*>[^<]*title', response.text), response.text[:2000]
    # What was typed comes back, escaped.
    assert "kept &lt;b&gt;text&lt;/b&gt;" in response.text


# --------------------------------------------------------------------------------------------
# Escaping
# --------------------------------------------------------------------------------------------

def test_user_text_is_escaped_on_the_meeting_page(server, admin, meeting, make_user):
    payload = "<script>alert(1)</script>"
    attacker = make_user('<img src=x onerror="alert(2)">')
    response = propose(attacker, meeting, payload, description='"><svg onload=alert(3)>')
    assert response.status == 200, response
    page = server.client().get(meeting.page)
    assert page.status == 200, page
    html = page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "<svg" not in html
    # The same for the signed-in attacker (the name is shown in the header as well).
    html = attacker.client.get(meeting.page).text
    assert "<script>alert" not in html and "<img src=x" not in html and "<svg" not in html


def test_space_and_series_names_are_escaped(server, admin):
    space = admin.client.api("POST", "/api/spaces", {"name": "<b>bold</b> space", "slug": f"esc-{uuid.uuid4().hex[:8]}",
                                                      "description": "<i>desc</i>", "visibility": "public"}, expect=201)
    slug = space["space"]["slug"]
    html = server.client().get(f"/s/{slug}").text
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<i>desc</i>" not in html
    html = server.client().get("/").text
    assert "<b>bold</b>" not in html


# --------------------------------------------------------------------------------------------
# Private spaces look like missing ones
# --------------------------------------------------------------------------------------------

def _ws_status(server, path: str, cookie: str | None) -> int:
    headers = {"Cookie": cookie} if cookie else {}
    try:
        with connect(server.ws_base + path, additional_headers=headers, open_timeout=10):
            return 101
    except InvalidStatus as error:
        return error.response.status_code


def test_private_space_is_404_to_outsiders(server, admin, make_user):
    owner = make_user("Olive Owner")
    member = make_user("Mo Member")
    outsider = make_user("Otto Outsider")
    meeting = make_meeting(owner, visibility="private")
    owner.client.api("POST", f"/api/spaces/{meeting.space}/members", {"email": member.email, "role": "member"}, expect=200)

    paths_pages = [f"/s/{meeting.space}", f"/s/{meeting.space}/{meeting.series}", meeting.page]
    paths_api = [f"/api/spaces/{meeting.space}", f"/api/spaces/{meeting.space}/series",
                 f"/api/spaces/{meeting.space}/series/{meeting.series}", meeting.api]
    missing = server.client().get("/api/spaces/no-such-space-here").json()

    for who, client in (("signed out", server.client()), ("non-member", outsider.client)):
        for path in paths_pages:
            response = client.get(path)
            assert response.status == 404, f"{who} GET {path}: {response!r}"
            assert "Private" not in response.text and meeting.space not in response.text, f"{who} GET {path} leaks the space"
        for path in paths_api:
            response = client.get(path)
            problem = assert_problem(response, 404)
            assert problem["detail"] == missing["detail"], f"{who} GET {path}: {problem!r} differs from a missing space"
        response = client.request("POST", meeting.commands, json_body={"type": "propose", "tag": "inform", "title": "Sneaky"})
        assert_problem(response, 404)
        response = client.post(meeting.page_commands, form={"type": "propose", "tag": "inform", "title": "Sneaky"})
        assert response.status == 404, f"{who} form post: {response!r}"
        listed = client.get("/api/spaces")
        if listed.status == 200:
            assert meeting.space not in listed.text, f"{who} sees the private space in the list"
        assert meeting.space not in client.get("/").text

    # Members, the owner and the administrator do see it.
    for who, person in (("member", member), ("owner", owner), ("admin", admin)):
        assert person.client.get(meeting.page).status == 200, who
        assert person.client.get(meeting.api).status == 200, who
        assert _ws_status(server, meeting.live, person.cookie_header) == 101, who
    frame = member.client.api("POST", meeting.commands, {"type": "propose", "tag": "inform", "title": "Members only"}, expect=200)
    assert frame["me"]["canParticipate"] is True


def test_private_space_websocket_upgrade_is_refused_like_a_missing_one(server, make_user):
    owner = make_user("Wanda Owner")
    outsider = make_user("Walt Outsider")
    meeting = make_meeting(owner, visibility="private")
    missing = f"/api/spaces/no-such-space-ws/series/{meeting.series}/meetings/{meeting.date}/live"
    assert _ws_status(server, meeting.live, owner.cookie_header) == 101
    for who, cookie in (("signed out", None), ("non-member", outsider.cookie_header)):
        private_status = _ws_status(server, meeting.live, cookie)
        # Whatever the refusal looks like, it must not tell a private space from a missing one ...
        assert private_status == _ws_status(server, missing, cookie), who
        # ... and, per docs/protocol.md, it is refused with the 400 that hummingbird-websocket writes for
        # every refused upgrade (the same request without Upgrade answers 404, like the rest of the API).
        assert private_status == 400, f"{who}: WebSocket upgrade to a private space answered {private_status}"
    assert server.client(outsider.token).get(meeting.live).status == 404
    assert server.client().get(meeting.live).status == 404


def test_public_space_is_readable_signed_out_but_not_writable(server, admin, meeting):
    assert server.client().get(meeting.page).status == 200
    frame = server.client().api("GET", meeting.api, expect=200)
    assert frame["me"]["signedIn"] is False and frame["me"]["canParticipate"] is False
    assert _ws_status(server, meeting.live, None) == 101
