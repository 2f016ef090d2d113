#!/usr/bin/env python3
"""Archive search benchmark (issue #4).

Generates a deterministic synthetic archive (10 years x 50 meetings x 15 topics x 20 bullets =
150,000 bullets) as one Markdown notes page, imports it and the real corpus
(Tests/fixtures/arch-hour-notes-2022-h2.txt) into a fresh SQLite installation with
`hourglass import`, then, against `hourglass serve` pinned to core 0 and with this script pinned to
core 1:

  1. runs 1,000 mixed queries (common/mid/rare words, two words, "phrases", prefix*, tag/date/series
     filters, hostile input) sequentially over one keep-alive HTTP connection against /api/search
     and reports client-side latency p50/p95/p99/max and throughput per query kind and overall;
  2. checks every query whose answer the generator knows (it tracks which meetings, tags and
     bullets hold each word) and counts "missed" queries: the archive has a match in scope, the
     API returned nothing;
  3. measures edit-to-searchable: creates a bullet with a unique word through the meeting's notes
     WebSocket and polls /api/search until it is found (20 times);
  4. reports server RSS (VmRSS/VmHWM), database size and import throughput.

Build first (this script builds nothing):

    swift build -c release --product hourglass --scratch-path .build-bench
    /tmp/venv/bin/python Benchmarks/search_bench.py            # --binary .build-bench/release/hourglass

Needs `websockets` (Tests/e2e/requirements.txt) and `taskset`. Exits non-zero when something failed
(server or import error, a 5xx, a non-hostile query not answered 200, a missed expected hit, an edit
never found); missing the p99 target is reported, not a failure.
"""
from __future__ import annotations

import argparse
import bisect
import datetime as dt
import glob
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_CORPUS = os.path.join(ROOT, "Tests", "fixtures", "arch-hour-notes-2022-h2.txt")
PASSWORD = "search-bench-password"
TAGS = ["inform", "ideation", "analysis", "quest"]
TARGET_P99_MS = 20.0

# --------------------------------------------------------------------------------------------
# Vocabulary: real words for the head of the distribution, pronounceable pseudo-words for the tail
# --------------------------------------------------------------------------------------------

COMMON = """the we to and of a in is it that for on this be with are should as have not can do if
what at or but so from they how about our there more will would use need an by think all one
team when like which some just there could out up time now also into than other their new only
then them because does way any been people were who very maybe much make still get see these""".split()

TECH = """service api deploy database migration release test tests pipeline build frontend backend
cache queue kafka schema index query latency throughput outage incident rollback feature flag flags
review reviews repo repository branch merge monorepo library dependency dependencies upgrade python
django react javascript typescript docker kubernetes cluster container image registry terraform
aws lambda bucket storage logging metrics tracing alert alerts oncall runbook postmortem sla slo
architecture design decision decisions adr adrs proposal rfc platform product roadmap quarter
sprint backlog ticket tickets jira confluence docs documentation onboarding security auth oauth
token tokens session cookie permissions role roles tenant tenants course courses learner learners
grading xblock xblocks lti mfe mfes plugin plugins event events bus consumer producer webhook
webhooks cron celery worker workers task tasks retry retries timeout timeouts config settings
environment staging production sandbox devstack tutor openedx edx analytics dashboard report
reports export import search ranking feed notification notifications email emails mobile ios
android accessibility translation translations i18n frontend legacy refactor rewrite ownership
contract contracts interface boundary boundaries coupling cohesion performance profiling memory
cpu benchmark benchmarks load capacity scaling shard sharding replica replicas failover backup
restore compliance privacy pii gdpr audit logs ci cd github actions jenkins linting formatting""".split()

# Distinctive phrases that appear verbatim in a small share of bullets (phrase queries).
PHRASES = ["event sourcing", "feature flag cleanup", "open edx conference", "technical debt",
           "blue green deployment", "learning management system", "single sign on",
           "course run", "content security policy", "postgres read replica", "async task queue",
           "architecture decision record", "error budget", "service level objective",
           "frontend plugin slots", "dependency upgrade sprint", "monorepo versus polyrepo",
           "data retention policy", "zero downtime migration", "platform ownership map"]

NAMES = """Ann Ben Carla Dev Eli Fatima Gus Hana Ivan Jeremy Kim Lena Marco Ned Olga Priya Quinn
Robert Sara Tomas Uma Victor Wei Xena Yusuf Zoe Feanil Andy Dave Emma""".split()


def pseudo_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
              "br", "cr", "dr", "gr", "pl", "st", "tr", "sh", "ch", "th", "sk", "sp"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
    codas = ["", "", "", "n", "r", "s", "l", "t", "m", "x", "nd", "rt", "st"]
    out: list[str] = []
    while len(out) < count:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.choice([1, 2, 2, 2, 3, 3, 4]))) + rng.choice(codas)
        if len(word) >= 3 and word not in taken:
            taken.add(word)
            out.append(word)
    return out


class Vocabulary:
    """Words by rank; drawn with Zipf-Mandelbrot weights 1/(rank + 2.7)^exponent."""

    def __init__(self, seed: int, size: int, exponent: float = 1.07):
        rng = random.Random(seed)
        head = list(dict.fromkeys(COMMON))
        tech = [w for w in dict.fromkeys(TECH) if w not in head]
        rng.shuffle(tech)
        # The first ranks are function words, then engineering words interleaved with pseudo-words.
        taken = set(head) | set(tech)
        tail = pseudo_words(rng, max(0, size - len(head) - len(tech)), taken)
        mixed: list[str] = []
        ti, pi = 0, 0
        while ti < len(tech) or pi < len(tail):
            if ti < len(tech) and (rng.random() < 0.55 or pi >= len(tail)):
                mixed.append(tech[ti]); ti += 1
            else:
                mixed.append(tail[pi]); pi += 1
        self.words = (head + mixed)[:size]
        weights = [1.0 / (rank + 2.7) ** exponent for rank in range(len(self.words))]
        self.cum: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            self.cum.append(total)

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum, k=k)


# --------------------------------------------------------------------------------------------
# The synthetic archive
# --------------------------------------------------------------------------------------------

class Archive:
    """Writes the Markdown page and remembers where each word is, to know which queries must hit."""

    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.vocab = Vocabulary(args.seed, args.vocabulary)
        end = dt.date.fromisoformat(args.end_date) if args.end_date else last_wednesday_before(dt.date.today())
        weeks_per_year = 52
        skip = {25, 51}  # a summer and a year-end break: 50 meetings a year
        dates: list[dt.date] = []
        for year in range(args.years):
            for week in range(weeks_per_year):
                if week in skip:
                    continue
                dates.append(end - dt.timedelta(weeks=year * weeks_per_year + week))
        dates = dates[: args.years * args.meetings_per_year]
        self.dates = sorted(dates)  # oldest first; index = meeting number
        self.topics_per_meeting = args.topics
        self.bullets_per_topic = args.bullets
        self.word_meetings: dict[str, set[int]] = {}
        self.title_tags: dict[str, set[tuple[int, str]]] = {}
        self.phrase_meetings: dict[str, set[int]] = {p: set() for p in PHRASES}
        self.samples: list[tuple[int, list[str]]] = []
        self.bullet_count = 0
        self.topic_count = 0
        self.newest_first = args.order == "newest-first"

    def sentence(self, n: int) -> list[str]:
        return self.vocab.draw(self.rng, n)

    def bullet_text(self, meeting: int, words_seen: set[str]) -> str:
        rng = self.rng
        words = self.sentence(rng.randint(5, 22))
        if rng.random() < 0.03:
            phrase = rng.choice(PHRASES)
            at = rng.randint(0, len(words))
            words[at:at] = phrase.split()
            self.phrase_meetings[phrase].add(meeting)
        words_seen.update(words)
        if rng.random() < 1 / 75:
            self.samples.append((meeting, list(words)))
        text = " ".join(words)
        text = text[0].upper() + text[1:]
        if rng.random() < 0.2:  # a comma somewhere, as people write
            parts = text.split(" ")
            i = rng.randrange(1, len(parts)) if len(parts) > 1 else 0
            parts[i - 1] += ","
            text = " ".join(parts)
        text += rng.choice([".", ".", ".", "?", "", ""])
        marker = rng.random()
        if marker < 0.01:
            text = "[todo] " + text
        elif marker < 0.015:
            text = "ACTION: " + text
        return text

    def meeting_lines(self, index: int) -> list[str]:
        rng = self.rng
        lines = [f"## {self.dates[index].isoformat()}", ""]
        words_seen: set[str] = set()
        for _ in range(self.topics_per_meeting):
            tag = rng.choice(TAGS)
            title_words = self.sentence(rng.randint(4, 9))
            for w in set(title_words):
                self.title_tags.setdefault(w, set()).add((index, tag))
            words_seen.update(title_words)
            title = " ".join(title_words)
            title = title[0].upper() + title[1:]
            lines.append(f"### [{tag}] ({rng.choice(NAMES)}) {title}")
            self.topic_count += 1
            depth = 0
            for b in range(self.bullets_per_topic):
                # Mostly top-level bullets, some replies, a few replies to replies (never deeper than one level below the previous).
                depth = 0 if b == 0 else min(rng.choices((0, 1, 2), weights=(55, 35, 10))[0], depth + 1)
                lines.append("  " * depth + "- " + self.bullet_text(index, words_seen))
                self.bullet_count += 1
            lines.append("")
        for w in words_seen:
            self.word_meetings.setdefault(w, set()).add(index)
        return lines

    def write(self, path: str) -> None:
        # Generate oldest first (so the random stream does not depend on the order), write as asked.
        blocks = [self.meeting_lines(i) for i in range(len(self.dates))]
        if self.newest_first:
            blocks.reverse()
        with open(path, "w", encoding="utf-8") as f:
            f.write("# Synthetic Architecture Hour\n\nGenerated by Benchmarks/search_bench.py for the search benchmark.\n\n")
            for block in blocks:
                f.write("\n".join(block))
                f.write("\n")

    def meetings_in(self, first: dt.date | None, last: dt.date | None) -> range:
        lo = 0 if first is None else bisect.bisect_left(self.dates, first)
        hi = len(self.dates) if last is None else bisect.bisect_right(self.dates, last)
        return range(lo, hi)


def last_wednesday_before(day: dt.date) -> dt.date:
    back = (day.weekday() - 2) % 7 or 7
    return day - dt.timedelta(days=back)


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------

class Query:
    def __init__(self, kind: str, q: str, params: dict[str, str] | None = None, expect_hit: bool | None = None,
                 hostile: bool = False, note: str = ""):
        self.kind = kind
        self.q = q
        self.params = params or {}
        self.expect_hit = expect_hit  # True: the synthetic archive has a match in scope; None: unknown
        self.hostile = hostile
        self.note = note
        self.latency_ms = 0.0
        self.status = 0
        self.hits = -1
        self.error = ""
        self.timed_out = False

    def path(self, space: str | None) -> str:
        params = {"q": self.q}
        if space:
            params["space"] = space
        params.update(self.params)
        return "/api/search?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)

    def describe(self) -> str:
        q = self.q if len(self.q) <= 60 else self.q[:40] + f"… ({len(self.q)} chars)"
        return f"{self.kind}: {q!r} {self.params or ''}".strip()


KIND_COUNTS = [("word-common", 130), ("word-mid", 120), ("word-rare", 100), ("two-words", 130), ("phrase", 120),
               ("prefix", 120), ("filter-date", 100), ("filter-tag", 70), ("filter-series", 60), ("hostile", 50)]


def hostile_queries(rng: random.Random) -> list[Query]:
    lorem = " ".join(rng.choice(["lorem", "ipsum", "dolor", "sit", "amet", "deploy", "cache"]) for _ in range(1700))[:10_000]
    cases = [
        '"unbalanced quote', 'foo"bar', '(((', 'deploy) OR (cache', 'NEAR(deploy cache, 3)', 'deploy NEAR cache',
        'AND', 'OR NOT', '*', '**', 'a*b*c*', '"', '""', '-deploy', '^deploy', 'text:deploy', 'title:"x"',
        "'; DROP TABLE bullets; --", '%', '_', '\\', '{}[]', '🙂 deploy', 'Ünïcödé straße', '中文 検索', 'x\x00y',
        '"' * 500, '(' * 2000, "x" * 10_000, lorem, ('"a b" ' * 1700)[:10_000], '*' * 3000,
        'the the the the the the the the the the the the the the the the the the the the',
        'a* b* c* d* e* f* g* h* i* j* k* l* m* n* o* p*', '" "', '\u200b', 'é*', '0*', '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17',
        '$(reboot)', '<script>alert(1)</script>', 'NULL', 'deploy\ncache', '\t',
    ]
    # Bad or odd parameters next to a normal query, then odd query text.
    out = [Query("hostile", "deploy", {"from": "not-a-date"}, hostile=True),
            Query("hostile", "deploy", {"to": "2022-02-30"}, hostile=True),
            Query("hostile", "deploy", {"limit": "1000000"}, hostile=True),
            Query("hostile", "deploy", {"limit": "-5"}, hostile=True),
            Query("hostile", "deploy", {"tag": "x" * 500}, hostile=True),
            Query("hostile", "deploy", {"series": "no-such-series"}, hostile=True),
            Query("hostile", "deploy", {"from": "2030-01-01", "to": "2010-01-01"}, hostile=True)]
    return out + [Query("hostile", c, hostile=True) for c in cases]


def make_queries(archive: Archive, seed: int, total: int) -> list[Query]:
    rng = random.Random(seed + 1)
    words = archive.vocab.words
    present = [w for w in words if w in archive.word_meetings]
    common = [w for w in words[:50] if w in archive.word_meetings]
    mid = [w for w in words[100:1000] if w in archive.word_meetings]
    rare = [w for w in words[2000:] if w in archive.word_meetings] or present[-200:]
    title_words = [w for w in words[:1500] if w in archive.title_tags]
    n_meetings = len(archive.dates)

    def has(word: str, scope: range | None = None) -> bool:
        found = archive.word_meetings.get(word, set())
        return bool(found) if scope is None else any(m in found for m in scope)

    def single(pool: list[str]) -> str:
        return rng.choice(pool)

    def make(kind: str) -> Query:
        if kind == "word-common":
            w = single(common)
            return Query(kind, w, expect_hit=True)
        if kind == "word-mid":
            w = single(mid)
            return Query(kind, w, expect_hit=has(w))
        if kind == "word-rare":
            if rng.random() < 0.2:  # a word nobody wrote: the no-hit path
                w = "zq" + "".join(rng.choice("xkvjq") for _ in range(6))
                return Query(kind, w, expect_hit=False, note="absent")
            w = single(rare)
            return Query(kind, w, expect_hit=has(w))
        if kind == "two-words":
            meeting, ws = rng.choice(archive.samples)
            a, b = rng.sample(range(len(ws)), 2)
            return Query(kind, f"{ws[a]} {ws[b]}", expect_hit=True)
        if kind == "phrase":
            if rng.random() < 0.5:
                p = rng.choice(PHRASES)
                return Query(kind, f'"{p}"', expect_hit=bool(archive.phrase_meetings[p]))
            meeting, ws = rng.choice(archive.samples)
            n = rng.choice([2, 2, 3])
            i = rng.randrange(0, len(ws) - n + 1)
            return Query(kind, '"' + " ".join(ws[i:i + n]) + '"', expect_hit=True)
        if kind == "prefix":
            if rng.random() < 0.1:
                return Query(kind, rng.choice("stcdp") + "*", expect_hit=True, note="one letter")
            w = rng.choice([w for w in (common + mid[:400]) if len(w) >= 4])
            return Query(kind, w[: rng.randint(2, 4)] + "*", expect_hit=True)
        if kind == "filter-date":
            w = single(common if rng.random() < 0.5 else mid)
            if rng.random() < 0.5:  # one year
                start = rng.randrange(0, max(1, n_meetings - 50))
                first, last = archive.dates[start], archive.dates[min(n_meetings - 1, start + 49)]
            else:  # one quarter
                start = rng.randrange(0, max(1, n_meetings - 12))
                first, last = archive.dates[start], archive.dates[min(n_meetings - 1, start + 11)]
            params = {"from": first.isoformat(), "to": last.isoformat()}
            return Query(kind, w, params, expect_hit=has(w, archive.meetings_in(first, last)))
        if kind == "filter-tag":
            w = single(title_words)
            tag = rng.choice(TAGS)
            found = any(t == tag for _, t in archive.title_tags.get(w, ()))
            return Query(kind, w, {"tag": tag}, expect_hit=found)
        if kind == "filter-series":
            w = single(common if rng.random() < 0.5 else mid)
            if rng.random() < 0.75:
                return Query(kind, w, {"series": "synthetic"}, expect_hit=has(w))
            return Query(kind, w, {"series": "__real__"}, expect_hit=None)  # resolved to the real series' slug later
        raise ValueError(kind)

    queries: list[Query] = []
    scale = total / sum(n for _, n in KIND_COUNTS)
    hostile = hostile_queries(rng)
    for kind, n in KIND_COUNTS:
        count = max(1, round(n * scale))
        if kind == "hostile":
            queries += [hostile[i % len(hostile)] if i < len(hostile) else Query("hostile", hostile[i % len(hostile)].q,
                        dict(hostile[i % len(hostile)].params), hostile=True) for i in range(count)]
        else:
            queries += [make(kind) for _ in range(count)]
    rng.shuffle(queries)
    return queries[:total] if len(queries) > total else queries


# --------------------------------------------------------------------------------------------
# Server, CLI and HTTP
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])  # kB
    except OSError:
        pass
    return out


class Server:
    def __init__(self, binary: str, data_dir: str, core: str, log_level: str):
        self.port = free_port()
        self.base_host = "127.0.0.1"
        self.log_path = os.path.join(data_dir, "server.log")
        self.log_file = open(self.log_path, "w")
        env = dict(os.environ, HOURGLASS_PUBLIC_DIR=os.path.join(ROOT, "Public"))
        env.pop("HOURGLASS_DATABASE_URL", None)
        cmd = ["taskset", "-c", core, binary, "serve", "--data-dir", data_dir, "--port", str(self.port),
               "--host", self.base_host, "--bcrypt-cost", "4", "--log-level", log_level]
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=env, cwd=data_dir)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                conn = http.client.HTTPConnection(self.base_host, self.port, timeout=2)
                conn.request("GET", "/readyz")
                r = conn.getresponse()
                body = r.read()
                conn.close()
                if r.status == 200 and body == b"ready":
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready:\n" + self.log()[-3000:])

    def log(self) -> str:
        self.log_file.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return 0.0

    def wait_idle(self, quiet: float = 1.0, limit: float = 3600) -> float:
        """Waits until the server has used no CPU for `quiet` seconds (after an abandoned query); returns the wait."""
        start = time.monotonic()
        last = self.cpu_seconds()
        while time.monotonic() - start < limit:
            time.sleep(quiet)
            now = self.cpu_seconds()
            if now - last < 0.02:
                break
            last = now
        return time.monotonic() - start

    def memory(self) -> dict[str, int]:
        return proc_status(self.proc.pid)  # taskset execs the server: same pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log_file.close()


class HTTP:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int, token: str | None, timeout: float = 60):
        self.host, self.port, self.token, self.timeout = host, port, token, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.connects = 0

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def request(self, method: str, path: str, body=None) -> tuple[int, bytes, float]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            if self.conn is None:
                self.conn = self._connect()
                self.connects += 1
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                elapsed = (time.perf_counter() - start) * 1000
                if response.will_close:
                    self.conn.close()
                    self.conn = None
                return response.status, payload, elapsed
            except (http.client.HTTPException, OSError) as error:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                # Retry once only when a kept-alive connection was closed under us, never after a timeout.
                if attempt == 1 or isinstance(error, TimeoutError):
                    raise
        raise RuntimeError("unreachable")

    def json(self, method: str, path: str, body=None, expect: int = 200):
        status, payload, _ = self.request(method, path, body)
        if status != expect:
            raise RuntimeError(f"{method} {path}: expected {expect}, got {status}: {payload[:500]!r}")
        return json.loads(payload) if payload else None


def run_cli(binary: str, args: list[str], core: str, stdin: str = "", timeout: float = 1800) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("HOURGLASS_DATABASE_URL", "HOURGLASS_DATA_DIR")}
    start = time.perf_counter()
    done = subprocess.run(["taskset", "-c", core, binary, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    return done, time.perf_counter() - start


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-p / 100 * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def stats(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95), "p99": percentile(values, 99),
            "max": max(values) if values else float("nan"), "mean": statistics.fmean(values) if values else float("nan")}


def db_size(data_dir: str) -> dict[str, int]:
    return {os.path.basename(p): os.path.getsize(p) for p in sorted(glob.glob(os.path.join(data_dir, "hourglass.sqlite*")))}


def table_sizes(path: str) -> dict[str, int]:
    """Bytes per table and index (with their FTS shadow tables), largest first; empty without dbstat."""
    try:
        import sqlite3
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        finally:
            db.close()
        return {name: size for name, size in rows}
    except Exception:  # noqa: BLE001 - a figure to show, not a check
        return {}


def num(v: float) -> str:
    """Two decimals for small figures, none (with separators) from 100 up."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}"


def mb(n: float) -> str:
    return f"{n / 1_000_000:.1f} MB"


# --------------------------------------------------------------------------------------------
# Edit-to-searchable
# --------------------------------------------------------------------------------------------

def edit_to_searchable(server: Server, http_client: HTTP, token: str, space: str, series: str, date: str,
                       repeats: int, timeout: float, failures: list[str]) -> dict:
    try:
        from websockets.sync.client import connect
    except ImportError:
        failures.append("edit-to-searchable: the websockets package is missing (pip install -r Tests/e2e/requirements.txt)")
        return {}
    url = f"ws://{server.base_host}:{server.port}/api/spaces/{space}/series/{series}/meetings/{date}/live"
    client_id = "searchbench-" + uuid.uuid4().hex[:8]
    acks: dict[str, float] = {}
    errors: list[str] = []
    ready = threading.Event()
    found_ms: list[float] = []
    ack_ms: list[float] = []
    polls: list[int] = []
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10, max_size=None) as ws:
        def reader() -> None:
            try:
                for message in ws:
                    if isinstance(message, bytes):
                        continue
                    frame = json.loads(message)
                    kind = frame.get("type")
                    if kind == "notesSnapshot":
                        ready.set()
                    elif kind == "notesAck":
                        acks[frame["id"]] = time.perf_counter()
                    elif kind == "error":
                        errors.append(f"{frame.get('code')}: {frame.get('message')}")
            except Exception as error:  # noqa: BLE001 - the socket closes at the end
                if not ready.is_set():
                    errors.append(repr(error))

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        ws.send(json.dumps({"type": "hello", "client": client_id, "since": None}))
        if not ready.wait(10):
            failures.append(f"edit-to-searchable: no notesSnapshot after hello ({errors})")
            return {}
        client_seq = 0
        for i in range(repeats):
            word = f"benchedit{i}x{uuid.uuid4().hex[:10]}"
            bullet = f"sb{i}{uuid.uuid4().hex[:8]}"
            frame_id = f"e{i}"
            changes = [{"clientSeq": client_seq + 1, "kind": "create", "bullet": bullet, "parent": "meeting",
                        "order": f"V{i:03d}5", "text": ""},
                       {"clientSeq": client_seq + 2, "kind": "text", "bullet": bullet, "rev": 0,
                        "op": [f"Decision: adopt {word} for the release pipeline"]}]
            client_seq += 2
            path = "/api/search?" + urllib.parse.urlencode({"q": word, "space": space})
            sent = time.perf_counter()
            ws.send(json.dumps({"type": "notes", "id": frame_id, "client": client_id, "changes": changes}))
            n = 0
            hit_at = None
            while time.perf_counter() - sent < timeout:
                status, payload, _ = http_client.request("GET", path)
                n += 1
                if status == 200 and any(r.get("kind") == "bullet" for r in json.loads(payload)):
                    hit_at = time.perf_counter()
                    break
                if errors:
                    break
            if hit_at is None:
                failures.append(f"edit-to-searchable: {word!r} not found within {timeout}s ({n} polls; errors {errors[-3:]})")
                continue
            found_ms.append((hit_at - sent) * 1000)
            polls.append(n)
            deadline = time.perf_counter() + 5
            while frame_id not in acks and time.perf_counter() < deadline:
                time.sleep(0.001)
            if frame_id in acks:
                ack_ms.append((acks[frame_id] - sent) * 1000)
            else:
                failures.append(f"edit-to-searchable: no notesAck for {frame_id}")
        if errors:
            failures.append(f"edit-to-searchable: server errors on the notes socket: {errors[:3]}")
    return {"found": stats(found_ms), "ack": stats(ack_ms), "polls": stats([float(p) for p in polls]), "repeats": repeats,
            "meeting": f"{space}/{series}/{date}"}


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build-bench", "release", "hourglass"))
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--years", type=int, default=10)
    p.add_argument("--meetings-per-year", type=int, default=50)
    p.add_argument("--topics", type=int, default=15, help="topics per meeting")
    p.add_argument("--bullets", type=int, default=20, help="bullets per topic")
    p.add_argument("--vocabulary", type=int, default=4000, help="distinct words of the generator")
    p.add_argument("--end-date", help="date of the newest synthetic meeting (default: the last Wednesday before today)")
    p.add_argument("--order", choices=["newest-first", "oldest-first"], default="newest-first",
                   help="meeting order in the generated page (the real corpus is newest first)")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=20, help="queries run before the measured ones (not counted)")
    p.add_argument("--query-timeout", type=float, default=600, help="client-side timeout of one query, seconds")
    p.add_argument("--edits", type=int, default=20)
    p.add_argument("--edit-timeout", type=float, default=10)
    p.add_argument("--server-core", default="0")
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--log-level", default="notice")
    p.add_argument("--keep", action="store_true", help="keep the data directory (for EXPLAIN QUERY PLAN and the like)")
    p.add_argument("--json-out", help="also write all figures as JSON to this file")
    p.add_argument("--show-missed", type=int, default=10, help="list this many missed queries")
    args = p.parse_args()

    failures: list[str] = []
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print(f"No hourglass binary at {binary}; build it first:\n  swift build -c release --product hourglass --scratch-path .build-bench",
              file=sys.stderr)
        return 2
    try:
        os.sched_setaffinity(0, {args.client_core})
    except OSError as error:
        print(f"warning: could not pin the load generator to core {args.client_core}: {error}", file=sys.stderr)

    data_dir = tempfile.mkdtemp(prefix="hourglass-search-bench-")
    server: Server | None = None
    report: dict = {"binary": binary, "seed": args.seed, "dataDir": data_dir, "serverCore": args.server_core,
                    "clientCore": args.client_core, "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    try:
        # -- The archive file ------------------------------------------------------------------
        t0 = time.perf_counter()
        archive = Archive(args)
        page = os.path.join(data_dir, "synthetic.md")
        archive.write(page)
        gen_s = time.perf_counter() - t0
        page_bytes = os.path.getsize(page)
        print(f"generated {page}: {len(archive.dates)} meetings ({archive.dates[0]} .. {archive.dates[-1]}), "
              f"{archive.topic_count} topics, {archive.bullet_count} bullets, {mb(page_bytes)} in {gen_s:.1f}s", flush=True)
        report["archive"] = {"meetings": len(archive.dates), "topics": archive.topic_count, "bullets": archive.bullet_count,
                             "bytes": page_bytes, "first": archive.dates[0].isoformat(), "last": archive.dates[-1].isoformat(),
                             "order": args.order, "vocabulary": len(archive.vocab.words)}

        # -- Admin, server, space --------------------------------------------------------------
        email = "search-bench@example.com"
        done, _ = run_cli(binary, ["user", "add", "--data-dir", data_dir, "--email", email, "--name", "Search Bench",
                                   "--admin", "--bcrypt-cost", "4"], args.server_core, stdin=PASSWORD + "\n", timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"hourglass user add failed ({done.returncode}): {done.stderr or done.stdout}")
        server = Server(binary, data_dir, args.server_core, args.log_level)
        report["rssStartKB"] = server.memory()
        anon = HTTP(server.base_host, server.port, None)
        session = anon.json("POST", "/api/signin", {"email": email, "password": PASSWORD})
        token = session["token"]
        client = HTTP(server.base_host, server.port, token, timeout=args.query_timeout)
        space = "archive-" + uuid.uuid4().hex[:6]
        client.json("POST", "/api/spaces", {"name": "Archive search bench", "slug": space, "description": "search benchmark",
                                            "visibility": "public"}, expect=201)

        # -- Imports ---------------------------------------------------------------------------
        done, import_s = run_cli(binary, ["import", page, "--data-dir", data_dir, "--space", space, "--series", "Synthetic", "--json"],
                                 args.server_core)
        if done.returncode != 0:
            raise RuntimeError(f"import of the synthetic archive failed ({done.returncode}): {done.stderr[-2000:] or done.stdout[-2000:]}")
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"imported synthetic archive in {import_s:.1f}s: {summary}", flush=True)
        if summary.get("bullets") != archive.bullet_count or summary.get("topics") != archive.topic_count \
                or summary.get("meetings") != len(archive.dates):
            failures.append(f"import read {summary.get('meetings')} meetings/{summary.get('topics')} topics/{summary.get('bullets')} bullets, "
                            f"generated {len(archive.dates)}/{archive.topic_count}/{archive.bullet_count}")
        synthetic_series = summary["series"]
        done, real_s = run_cli(binary, ["import", REAL_CORPUS, "--data-dir", data_dir, "--space", space, "--series", "Arch Hour 2022 H2",
                                        "--json"], args.server_core)
        if done.returncode != 0:
            raise RuntimeError(f"import of the real corpus failed ({done.returncode}): {done.stderr[-2000:] or done.stdout[-2000:]}")
        real = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"imported real corpus in {real_s:.2f}s: {real}", flush=True)
        report["import"] = {"syntheticSeconds": import_s, "syntheticSummary": summary,
                            "bulletsPerSecond": archive.bullet_count / import_s, "mbPerSecond": page_bytes / 1e6 / import_s,
                            "realSeconds": real_s, "realSummary": real}
        report["dbAfterImport"] = db_size(data_dir)
        report["rssAfterImportKB"] = server.memory()

        # -- Queries ---------------------------------------------------------------------------
        queries = make_queries(archive, args.seed, args.queries)
        for q in queries:
            if q.params.get("series") == "__real__":
                q.params["series"] = real["series"]
            if q.params.get("series") == "synthetic":
                q.params["series"] = synthetic_series
        warm = make_queries(archive, args.seed + 1000, max(args.warmup, 1))[: args.warmup]
        for q in warm:
            q.params.pop("series", None)
            client.request("GET", q.path(space))
        connects_before = client.connects
        cpu_before = server.cpu_seconds()
        phase_start = time.perf_counter()
        idle_wait = 0.0
        for i, q in enumerate(queries):
            if i and i % 100 == 0:
                done_ms = sorted(x.latency_ms for x in queries[:i])
                print(f"  {i} queries, {time.perf_counter() - phase_start:.0f} s, p50 so far {done_ms[len(done_ms) // 2]:.1f} ms, "
                      f"max {done_ms[-1]:.0f} ms", file=sys.stderr, flush=True)
            # Three queries in four name the space, as the search page does; the rest search everything readable.
            path = q.path(space if i % 4 else None)
            start = time.perf_counter()
            try:
                status, payload, elapsed = client.request("GET", path)
            except (http.client.HTTPException, OSError) as error:
                q.latency_ms = (time.perf_counter() - start) * 1000
                if isinstance(error, TimeoutError):
                    q.error = f"timeout after {args.query_timeout:.0f} s"
                    q.timed_out = True
                    # The server may still be working on it: let it finish so it does not slow the next queries.
                    idle_wait += server.wait_idle()
                else:
                    q.error = repr(error)
                continue
            q.latency_ms, q.status = elapsed, status
            if status == 200:
                try:
                    q.hits = len(json.loads(payload))
                except ValueError:
                    q.error = "response is not JSON"
            elif not q.hostile or status >= 500:
                q.error = f"HTTP {status}: {payload[:200]!r}"
        phase_s = time.perf_counter() - phase_start - idle_wait
        server_cpu = server.cpu_seconds() - cpu_before
        report["rssAfterQueriesKB"] = server.memory()

        # Timed-out queries count at the timeout (a lower bound); connection errors are not timed.
        timed = [q for q in queries if not q.error or q.status or q.timed_out]
        kinds: dict[str, dict] = {}
        for kind, _ in KIND_COUNTS:
            group = [q for q in timed if q.kind == kind]
            if not group:
                continue
            lat = [q.latency_ms for q in group]
            s = stats(lat)
            s["qps"] = len(lat) / (sum(lat) / 1000)
            s["zeroHits"] = sum(1 for q in group if q.hits == 0)
            s["missed"] = sum(1 for q in group if q.expect_hit and q.hits == 0)
            s["errors"] = sum(1 for q in queries if q.kind == kind and q.error)
            kinds[kind] = s
        overall = stats([q.latency_ms for q in timed])
        overall["qps"] = len(timed) / phase_s
        overall["errors"] = sum(1 for q in queries if q.error)
        overall["timeouts"] = sum(1 for q in queries if q.timed_out)
        overall["seconds"] = phase_s
        overall["serverCpuSeconds"] = server_cpu
        overall["missed"] = sum(1 for q in queries if q.expect_hit and q.hits == 0)
        report["queries"] = {"overall": overall, "kinds": kinds, "warmup": args.warmup,
                             "reconnects": client.connects - connects_before,
                             "hostileStatuses": _count(str(q.status or q.error[:40]) for q in queries if q.hostile),
                             "slowest": [(round(q.latency_ms, 2), q.describe(), q.hits) for q in
                                         sorted(timed, key=lambda q: -q.latency_ms)[:10]]}
        missed = [q for q in queries if q.expect_hit and q.hits == 0]
        report["queries"]["missedExamples"] = [q.describe() for q in missed[:args.show_missed]]
        for q in queries:
            if q.error:
                failures.append(f"query {q.describe()}: {q.error}")
        if missed:
            failures.append(f"{len(missed)} queries found nothing although the archive has a match in scope "
                            f"(by kind: {_count(q.kind for q in missed)})")

        # -- Edit-to-searchable ----------------------------------------------------------------
        view = client.json("GET", f"/api/spaces/{space}/series/{synthetic_series}")
        upcoming = [m for m in view["meetings"] if m["status"] in ("upcoming", "live")]
        if upcoming:
            edit_series, edit_date = synthetic_series, upcoming[0]["date"]
        else:
            created = client.json("POST", f"/api/spaces/{space}/series",
                                  {"name": "Edits", "slug": "edits", "weekday": "3", "time": "14:00", "timeZone": "UTC"}, expect=201)
            edit_series = created["slug"]
            edit_date = client.json("GET", f"/api/spaces/{space}/series/{edit_series}")["meetings"][0]["date"]
        report["edit"] = edit_to_searchable(server, client, token, space, edit_series, edit_date, args.edits, args.edit_timeout, failures)
        report["rssEndKB"] = server.memory()
        report["dbEnd"] = db_size(data_dir)
        report["dbTables"] = table_sizes(os.path.join(data_dir, "hourglass.sqlite"))
        if not server.alive():
            failures.append(f"the server exited with {server.proc.returncode}")
        errors_logged = [line for line in server.log().splitlines() if re.search(r"\b(error|critical)\b", line)]
        report["serverErrorLines"] = errors_logged[:20]
    except Exception as error:  # noqa: BLE001 - reported, and the run fails
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        if server is not None:
            server.stop()

    report["failures"] = failures
    print_summary(report)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2, sort_keys=True, default=str)
    if args.keep:
        print(f"data directory kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 1 if failures else 0


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))


def print_summary(r: dict) -> None:
    print()
    print("=" * 100)
    print("Archive search benchmark")
    print("=" * 100)
    a = r.get("archive")
    if a:
        print(f"archive     synthetic: {a['meetings']} meetings ({a['first']} .. {a['last']}, {a['order']}), {a['topics']:,} topics, "
              f"{a['bullets']:,} bullets, {mb(a['bytes'])}, {a['vocabulary']} words, seed {r['seed']}")
    imp = r.get("import")
    if imp:
        rs = imp["realSummary"]
        print(f"            real corpus: {rs['meetings']} meetings, {rs['topics']} topics, {rs['bullets']} bullets")
        print(f"import      synthetic {imp['syntheticSeconds']:.1f} s = {imp['bulletsPerSecond']:,.0f} bullets/s, "
              f"{imp['mbPerSecond']:.2f} MB/s; real corpus {imp['realSeconds']:.2f} s")
    if "dbAfterImport" in r:
        d = r["dbAfterImport"]
        print(f"database    after import {mb(sum(d.values()))} ({', '.join(f'{k} {mb(v)}' for k, v in d.items())})")
    q = r.get("queries")
    if q:
        o = q["overall"]
        print(f"queries     {o['n']} sequential over one keep-alive connection (+{q['warmup']} warm-up), server on core "
              f"{r['serverCore']}, client on core {r['clientCore']}")
        print(f"  {'kind':<14}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}{'q/s':>8}{'0 hits':>8}{'missed':>8}{'errors':>8}")
        for kind, s in q["kinds"].items():
            print(f"  {kind:<14}{s['n']:>5}{num(s['p50']):>10}{num(s['p95']):>10}{num(s['p99']):>10}{num(s['max']):>10}{num(s['qps']):>8}"
                  f"{s['zeroHits']:>8}{s['missed']:>8}{s['errors']:>8}")
        print(f"  {'all':<14}{o['n']:>5}{num(o['p50']):>10}{num(o['p95']):>10}{num(o['p99']):>10}{num(o['max']):>10}{num(o['qps']):>8}"
              f"{'':>8}{o['missed']:>8}{o['errors']:>8}")
        print(f"  {o['n']} queries in {o['seconds']:.1f} s, server CPU {o['serverCpuSeconds']:.1f} s; timeouts: {o['timeouts']}; "
              f"hostile statuses: {q['hostileStatuses']}; reconnects: {q['reconnects']}")
        print("  slowest:")
        for ms, what, hits in q["slowest"][:6]:
            print(f"    {num(ms):>9} ms  {what}  ({hits} hits)")
        if q.get("missedExamples"):
            print("  missed (the archive has a match in scope, the API returned nothing):")
            for what in q["missedExamples"]:
                print(f"    {what}")
    e = r.get("edit")
    if e and e.get("found", {}).get("n"):
        print(f"edit        edit-to-searchable over {e['found']['n']} edits ({e['meeting']}): p50 {e['found']['p50']:.1f} ms, "
              f"max {e['found']['max']:.1f} ms (notesAck p50 {e['ack']['p50']:.1f} ms, max {e['ack']['max']:.1f} ms; "
              f"searches per edit p50 {e['polls']['p50']:.0f})")
    mem = [(k, r.get(k, {})) for k in ("rssStartKB", "rssAfterImportKB", "rssAfterQueriesKB", "rssEndKB")]
    if any(v for _, v in mem):
        print("server RSS  " + ", ".join(f"{k[3:-2]} {v.get('VmRSS', 0) / 1024:.0f} MB" for k, v in mem if v)
              + (f" (peak {mem[-1][1].get('VmHWM', 0) / 1024:.0f} MB)" if mem[-1][1] else ""))
    if "dbEnd" in r:
        print(f"database    at the end {mb(sum(r['dbEnd'].values()))} ({', '.join(f'{k} {mb(v)}' for k, v in r['dbEnd'].items())})")
    if r.get("dbTables"):
        print("  largest:   " + ", ".join(f"{k} {mb(v)}" for k, v in list(r["dbTables"].items())[:7]))
    if q:
        p99 = q["overall"]["p99"]
        print(f"target      p99 < {TARGET_P99_MS:.0f} ms: {'MET' if p99 < TARGET_P99_MS else 'MISSED'} (p99 {num(p99)} ms)")
    if r.get("serverErrorLines"):
        print(f"server log  {len(r['serverErrorLines'])} error lines, first: {r['serverErrorLines'][0][:200]}")
    print(f"failures    {len(r['failures'])}")
    for f in r["failures"][:20]:
        print(f"  - {f[:300]}")
    print("=" * 100, flush=True)


if __name__ == "__main__":
    sys.exit(main())
