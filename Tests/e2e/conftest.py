"""End-to-end fixtures: the real `hourglass` binary on a free loopback port, driven over real HTTP.

Run with:  /tmp/venv/bin/python -m pytest Tests/e2e -q
Environment:
  HOURGLASS_BIN                  the server binary (default: <repo>/.build/debug/hourglass)
  HOURGLASS_TEST_POSTGRES_URL    a superuser postgres:// URL; tests needing PostgreSQL skip without it
                                 (scripts/with-postgres.sh COMMAND... provides a throwaway cluster)
"""

from __future__ import annotations

import errno
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PUBLIC_DIR = REPO_ROOT / "Public"
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
DEFAULT_BIN = REPO_ROOT / ".build" / "debug" / "hourglass"
PASSWORD = "correct horse battery"

SETUP_LINK = re.compile(r"/setup\?token=([A-Za-z0-9_\-]+)")


# --------------------------------------------------------------------------------------------
# Polling (no fixed sleeps)
# --------------------------------------------------------------------------------------------

def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, message: str = "condition"):
    """Calls `predicate` until it returns something truthy; returns that value or fails."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - retried until the deadline
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}" + (f" (last error: {last_error!r})" if last_error else ""))


# --------------------------------------------------------------------------------------------
# HTTP client (stdlib only; never follows redirects so tests can inspect them)
# --------------------------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def __repr__(self) -> str:  # shows up in assertion messages
        return f"<Response {self.status} {self.header('Content-Type')} {self.text[:300]!r}>"


class Client:
    """A tiny HTTP client for one person: keeps the session token and sends it as the cookie."""

    def __init__(self, server: "Server", token: str | None = None, bearer: bool = False):
        self.server = server
        self.token = token
        self.bearer = bearer

    def request(self, method: str, path: str, *, json_body: Any = None, form: dict[str, str] | None = None,
                body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0) -> Response:
        all_headers = {"Connection": "close"}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.token:
            if self.bearer:
                all_headers["Authorization"] = f"Bearer {self.token}"
            else:
                all_headers["Cookie"] = f"hg_session={self.token}"
        all_headers.update(headers or {})
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=timeout)
        sender: threading.Thread | None = None
        raw_socket: socket.socket | None = None
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            if body is not None:
                all_headers.setdefault("Content-Length", str(len(body)))
            for name, value in all_headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            raw_socket = connection.sock
            if body is not None:
                # Send from another thread: the server may answer (e.g. 413) and stop reading
                # before the whole body is sent, and the answer must still be read.
                def send_body() -> None:
                    try:
                        raw_socket.sendall(body)
                    except OSError:
                        pass

                sender = threading.Thread(target=send_body, daemon=True)
                sender.start()
            response = connection.getresponse()
            data = response.read()
            return Response(response.status, response.headers, data)
        finally:
            if raw_socket is not None:
                try:
                    raw_socket.shutdown(socket.SHUT_RDWR)  # wakes a sender blocked in sendall
                except OSError:
                    pass
            connection.close()
            if sender is not None:
                sender.join(timeout=timeout)

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Response:
        return self.request("POST", path, **kwargs)

    # -- API helpers ------------------------------------------------------------------------

    def api(self, method: str, path: str, payload: Any = None, expect: int | None = None) -> Any:
        response = self.request(method, path, json_body=payload)
        if expect is not None:
            assert response.status == expect, f"{method} {path} {payload!r}: expected {expect}, got {response!r}"
        return response.json() if response.body else None

    def create_space(self, visibility: str = "public", slug: str | None = None, name: str | None = None) -> dict:
        slug = slug or unique_slug("space")
        return self.api("POST", "/api/spaces", {"name": name or f"Space {slug}", "slug": slug, "description": "e2e",
                                                 "visibility": visibility}, expect=201)

    def create_series(self, space_slug: str, slug: str | None = None, **settings: str) -> dict:
        slug = slug or unique_slug("series")
        fields = {"name": f"Series {slug}", "slug": slug, "weekday": "3", "time": "14:00", "timeZone": "UTC",
                  "timeBoxMinutes": "10", "extensionSteps": "5, 5", "votesPerParticipant": "3",
                  "maxVotesPerTopic": "3", "tags": "inform, ideation, analysis, quest"}
        fields.update({key: str(value) for key, value in settings.items()})
        return self.api("POST", f"/api/spaces/{space_slug}/series", fields, expect=201)

    def first_meeting_date(self, space_slug: str, series_slug: str) -> str:
        view = self.api("GET", f"/api/spaces/{space_slug}/series/{series_slug}", expect=200)
        assert view["meetings"], f"series {series_slug} has no meeting: {view!r}"
        return view["meetings"][0]["date"]


# --------------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------------

def retry_busy_binary(start: Callable[[], Any], timeout: float = 120) -> Any:
    """Runs `start` (which executes the binary), retrying while the binary is being relinked (ETXTBSY)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return start()
        except OSError as error:
            if error.errno != errno.ETXTBSY or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_counter = itertools.count(1)


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


class Server:
    """One `hourglass serve` process: SQLite under `data_dir`, or PostgreSQL when `database` is a URL."""

    def __init__(self, binary: Path, data_dir: Path, database: str | None = None, extra_args: list[str] | None = None):
        self.binary = binary
        self.data_dir = data_dir
        self.database = database
        self.extra_args = extra_args or []
        self.host = "127.0.0.1"
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def log(self) -> str:
        with self._lock:
            return "".join(self.output)

    def spawn(self, port: int | None = None) -> None:
        """Starts the process on `port` (a free one by default) without waiting for it."""
        self.port = port or free_port()
        env = dict(os.environ, HOURGLASS_PUBLIC_DIR=str(PUBLIC_DIR))
        env.pop("HOURGLASS_DATABASE_URL", None)
        storage = ["--database", self.database] if self.database else ["--data-dir", str(self.data_dir)]
        self.process = retry_busy_binary(lambda: subprocess.Popen(
            [str(self.binary), "serve", *storage, "--port", str(self.port), "--host", self.host, "--bcrypt-cost", "4", *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(self.data_dir), text=True, bufsize=1))
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()

    def wait_healthy(self, timeout: float = 60) -> None:
        wait_until(self._healthy, timeout=timeout, interval=0.1, message=f"{self.base_url}/healthz")

    def start(self) -> None:
        for attempt in range(3):
            self.spawn()
            try:
                self.wait_healthy()
                return
            except AssertionError:
                if self.process.poll() is None:
                    raise AssertionError(f"hourglass did not become healthy; output:\n{self.log()}")
                # Exited (e.g. the port was taken in between): try another port.
                if attempt == 2:
                    raise AssertionError(f"hourglass exited with {self.process.returncode}; output:\n{self.log()}")

    def _pump(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._lock:
                self.output.append(line)

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError("exited")
        # /readyz: the database answers and, with PostgreSQL, the instance hears the others.
        response = Client(self).get("/readyz", timeout=2)
        return response.status == 200 and response.text == "ready"

    def setup_tokens(self) -> list[str]:
        """Every setup token this process has printed so far, oldest first."""
        return SETUP_LINK.findall(self.log())

    def setup_token(self) -> str:
        def find() -> str | None:
            match = SETUP_LINK.search(self.log())
            return match.group(1) if match else None
        return wait_until(find, timeout=10, message="the setup link in the server log")

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`; returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def client(self, token: str | None = None, bearer: bool = False) -> Client:
        return Client(self, token, bearer)


@dataclass
class Person:
    name: str
    email: str
    password: str
    token: str
    user: dict
    client: Client = field(repr=False)

    @property
    def cookie_header(self) -> str:
        return f"hg_session={self.token}"


@dataclass
class Meeting:
    """A space, a series in it and the series' first meeting, with the paths to reach it."""
    space: str
    series: str
    date: str
    settings: dict

    @property
    def page(self) -> str:
        return f"/s/{self.space}/{self.series}/{self.date}"

    @property
    def page_commands(self) -> str:
        return f"{self.page}/commands"

    @property
    def api(self) -> str:
        return f"/api/spaces/{self.space}/series/{self.series}/meetings/{self.date}"

    @property
    def commands(self) -> str:
        return f"{self.api}/commands"

    @property
    def live(self) -> str:
        return f"{self.api}/live"


def binary_path() -> Path:
    return Path(os.environ.get("HOURGLASS_BIN", str(DEFAULT_BIN)))


def wait_for_binary() -> Path:
    binary = binary_path()
    # The lead may be relinking the binary; wait for it rather than failing straight away.
    wait_until(lambda: binary.exists() and os.access(binary, os.X_OK), timeout=300, interval=1,
               message=f"the hourglass binary at {binary}")
    return binary


@pytest.fixture(scope="session")
def server():
    binary = wait_for_binary()
    data_dir = Path(tempfile.mkdtemp(prefix="hourglass-e2e-"))
    instance = Server(binary, data_dir)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def set_up_admin(servers: list[Server], name: str = "Ada Admin", email: str | None = None) -> Person:
    """Creates the administrator through a setup link printed by any of `servers` (several instances
    starting on one empty database may each print one; only the token stored last works). The
    returned person's client talks to the server whose token worked."""
    email = email or unique_email("admin")
    refused: list[Response] = []

    def attempt() -> Person | None:
        for instance in servers:
            for token in reversed(instance.setup_tokens()):
                response = instance.client().post("/api/setup", json_body={"token": token, "name": name, "email": email,
                                                                           "password": PASSWORD})
                if response.status == 201:
                    payload = response.json()
                    assert payload["user"]["isAdmin"] is True, payload
                    return Person(name, email, PASSWORD, payload["token"], payload["user"], instance.client(payload["token"]))
                refused.append(response)
        return None

    try:
        return wait_until(attempt, timeout=15, interval=0.2, message="a working setup link")
    except AssertionError as error:
        raise AssertionError(f"{error}; refusals: {refused[-4:]!r}") from None


@pytest.fixture(scope="session")
def admin(server: Server) -> Person:
    """The administrator, created once through the one-time setup link (a facilitator everywhere)."""
    token = server.setup_token()
    email = unique_email("admin")
    response = server.client().post("/api/setup", json_body={"token": token, "name": "Ada Admin", "email": email,
                                                             "password": PASSWORD})
    assert response.status == 201, response
    payload = response.json()
    assert payload["user"]["isAdmin"] is True
    return Person("Ada Admin", email, PASSWORD, payload["token"], payload["user"], server.client(payload["token"]))


def sign_up(server: Server, name: str, email: str | None = None) -> Person:
    email = email or unique_email(name.split()[0].lower())
    response = server.client().post("/api/signup", json_body={"name": name, "email": email, "password": PASSWORD})
    assert response.status == 201, response
    payload = response.json()
    assert payload["token"], payload
    return Person(name, email, PASSWORD, payload["token"], payload["user"], server.client(payload["token"]))


@pytest.fixture
def make_user(server: Server) -> Callable[[str], Person]:
    return lambda name: sign_up(server, name)


def make_meeting(owner: Person, visibility: str = "public", **settings: str) -> Meeting:
    space = owner.client.create_space(visibility)["space"]["slug"]
    series = owner.client.create_series(space, **settings)
    date = owner.client.first_meeting_date(space, series["slug"])
    return Meeting(space, series["slug"], date, series["settings"])


@pytest.fixture
def meeting(admin: Person) -> Meeting:
    """A fresh public meeting owned by the administrator (3 votes each, 10-minute time boxes)."""
    return make_meeting(admin)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


def assert_problem(response: Response, status: int) -> dict:
    assert response.status == status, response
    assert (response.header("Content-Type") or "").startswith("application/problem+json"), response
    problem = response.json()
    for key in ("type", "title", "status", "detail"):
        assert key in problem, f"problem JSON without {key!r}: {problem!r}"
    assert problem["status"] == status, problem
    assert isinstance(problem["detail"], str) and problem["detail"], problem
    return problem


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------

def run_cli(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs `hourglass ARGS...` to completion (never the server), capturing stdout and stderr."""
    binary = wait_for_binary()
    env = {key: value for key, value in os.environ.items() if key not in ("HOURGLASS_DATABASE_URL", "HOURGLASS_DATA_DIR")}
    return retry_busy_binary(lambda: subprocess.run([str(binary), *args], input=stdin if stdin is not None else "",
                                                    capture_output=True, text=True, timeout=timeout, env=env))


@pytest.fixture
def tmp_data_dir():
    """A temporary data directory (SQLite) removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="hourglass-e2e-data-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_server(tmp_data_dir: Path):
    """Starts servers (SQLite under a directory, or PostgreSQL) that are stopped after the test."""
    started: list[Server] = []

    def start(data_dir: Path | None = None, database: str | None = None, wait: bool = True, extra_args: list[str] | None = None) -> Server:
        instance = Server(wait_for_binary(), data_dir or tmp_data_dir, database, extra_args)
        started.append(instance)
        if wait:
            instance.start()
        return instance

    yield start
    # Graceful shutdown is tested explicitly; here it is only tidiness: SIGTERM all, then wait (SIGKILL stragglers).
    running = [i for i in started if i.process is not None and i.process.poll() is None]
    for instance in running:
        instance.process.terminate()
    deadline = time.monotonic() + 5
    for instance in running:
        try:
            instance.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            instance.kill()


# --------------------------------------------------------------------------------------------
# PostgreSQL (tests that need it skip unless HOURGLASS_TEST_POSTGRES_URL is set)
# --------------------------------------------------------------------------------------------

PSQL = shutil.which("psql") or "/usr/bin/psql"


def postgres_url() -> str | None:
    return os.environ.get("HOURGLASS_TEST_POSTGRES_URL") or None


def psql(url: str, sql: str) -> str:
    """Runs one SQL command with psql and returns its unaligned, tuples-only output."""
    result = subprocess.run([PSQL, url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-c", sql],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"psql {sql!r} failed: {result.stderr}"
    return result.stdout.strip()


def database_url(base: str, name: str) -> str:
    """`base` with its path (the database name) replaced by `name`."""
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture
def fresh_database():
    """Creates empty PostgreSQL databases (hourglass_e2e_<random>) on demand; dropped afterwards.
    Skips the test when no PostgreSQL is configured."""
    base = postgres_url()
    if not base:
        pytest.skip("HOURGLASS_TEST_POSTGRES_URL is not set (run under scripts/with-postgres.sh)")
    created: list[str] = []

    def create() -> str:
        name = f"hourglass_e2e_{uuid.uuid4().hex[:12]}"
        psql(base, f'CREATE DATABASE "{name}"')
        created.append(name)
        return database_url(base, name)

    yield create
    for name in created:
        try:
            psql(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except AssertionError:
            pass  # dropping is tidiness only; the cluster is thrown away


def send_notes(server: Server, live_path: str, person: Person, client: str, changes: list[dict]) -> None:
    """Sends notes changes over a meeting's WebSocket (`live_path`) as `person`, and waits until the
    last one is acknowledged (the server echoes it back)."""
    from websockets.sync.client import connect

    with connect(server.ws_base + live_path, additional_headers={"Cookie": person.cookie_header}, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "client": client, "since": None}))
        while json.loads(ws.recv(timeout=15))["type"] != "notesSnapshot":
            pass
        ws.send(json.dumps({"type": "notes", "id": "e", "client": client, "changes": changes}))
        last = changes[-1]["clientSeq"]
        while True:
            frame = json.loads(ws.recv(timeout=15))
            assert frame["type"] != "error", frame
            if frame["type"] == "notes" and any(e["client"] == client and e["clientSeq"] == last for e in frame["changes"]):
                return
