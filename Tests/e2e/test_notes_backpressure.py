"""A client that stops reading while others write megabytes of notes: the server stops writing
to it when its socket is full, keeps the rest queued, and sends everything in order when it reads
again; past 20,000 queued changes it gets `resync` and catches up from its last sequence number.
Real server, real sockets: the slow client's receive queue is one frame, so TCP pushes back."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from conftest import make_meeting

TIMEOUT = 30


def open_live(server, meeting, person, **options):
    return connect(server.ws_base + meeting.live, additional_headers={"Cookie": person.cookie_header},
                   open_timeout=10, max_size=None, **options)


def hello(ws, client):
    """Starts the notes stream; returns the snapshot's sequence number."""
    ws.send(json.dumps({"type": "hello", "client": client, "since": None}))
    while True:
        frame = json.loads(ws.recv(timeout=TIMEOUT))
        if frame["type"] == "notesSnapshot":
            return frame["seq"]


class Writer:
    """Sends notes changes in frames of at most 64 KiB and waits for each acknowledgement."""

    def __init__(self, ws):
        self.ws = ws
        self.seq = hello(ws, "writer")
        self.client_seq = 0

    def send(self, changes):
        for change in changes:
            self.client_seq += 1
            change["clientSeq"] = self.client_seq
        self.ws.send(json.dumps({"type": "notes", "id": "w", "client": "writer", "changes": changes}))
        while True:  # the writer reads its own stream too, so it never holds the server back
            frame = json.loads(self.ws.recv(timeout=TIMEOUT))
            assert frame["type"] != "error", frame
            if frame["type"] == "notesAck":
                self.seq = frame["seq"]
                return



def read_until(ws, last_seq, final_seq, on_resync=None):
    """Reads `notes` frames until every entry up to `final_seq` is here; returns the entries in
    arrival order and how many resyncs came."""
    entries, resyncs = [], 0
    have = last_seq
    while have < final_seq:
        frame = json.loads(ws.recv(timeout=TIMEOUT))
        if frame["type"] == "notes":
            for entry in frame["changes"]:
                if entry["seq"] == have + 1:
                    have = entry["seq"]
                    entries.append(entry)
                else:
                    assert entry["seq"] <= have or resyncs, f"entry {entry['seq']} after {have} with no resync"
        elif frame["type"] == "resync":
            resyncs += 1
            ws.send(json.dumps({"type": "hello", "client": "slow", "since": have}))
    return entries, resyncs


def test_a_stalled_client_gets_everything_in_order_when_it_reads_again(server, admin):
    meeting = make_meeting(admin)
    # The reader's receive queue holds one frame: once it stops calling recv, TCP pushes back.
    with open_live(server, meeting, admin, max_queue=1) as reader, open_live(server, meeting, admin) as ws:
        start = hello(reader, "slow")
        check_in_order_after_stall(reader, start, Writer(ws))


def check_in_order_after_stall(reader, start, writer):
    # 1,200 bullets of 9,000 characters: about 11 MB, more than the socket buffers hold.
    for batch in range(200):
        writer.send([{"kind": "create", "bullet": f"big{batch}x{i}", "parent": "meeting", "order": f"V{batch:03d}{i + 1}",
                      "text": chr(65 + batch % 26) * 9000} for i in range(6)])
    entries, resyncs = read_until(reader, start, writer.seq)
    assert resyncs == 0
    assert [e["seq"] for e in entries] == list(range(start + 1, writer.seq + 1))
    created = [e["change"] for e in entries]
    assert len(created) == 1200 and all(len(c["text"]) == 9000 for c in created)
    assert created[0]["bullet"] == "big0x0" and created[-1]["bullet"] == "big199x5"


def test_a_client_too_far_behind_gets_resync_and_catches_up(server, admin):
    meeting = make_meeting(admin)
    with open_live(server, meeting, admin, max_queue=1) as reader, open_live(server, meeting, admin) as ws:
        start = hello(reader, "slow")
        check_resync_after_overflow(server, admin, meeting, reader, start, Writer(ws))


def check_resync_after_overflow(server, admin, meeting, reader, start, writer):
    # Fill the socket buffers first, then queue more than 20,000 small changes behind them.
    for batch in range(100):
        writer.send([{"kind": "create", "bullet": f"big{batch}x{i}", "parent": "meeting", "order": f"V{batch:03d}{i + 1}",
                      "text": "x" * 9000} for i in range(6)])
    for bullet in range(3):
        writer.send([{"kind": "create", "bullet": f"small{bullet}", "parent": "meeting", "order": f"W{bullet + 1}", "text": ""}])
        for frame in range(14):
            writer.send([{"kind": "text", "bullet": f"small{bullet}", "rev": frame * 500 + i, "op": [frame * 500 + i, "y"]}
                         if frame * 500 + i > 0 else
                         {"kind": "text", "bullet": f"small{bullet}", "rev": 0, "op": ["y"]}
                         for i in range(500)])
    entries, resyncs = read_until(reader, start, writer.seq)
    assert resyncs >= 1
    assert [e["seq"] for e in entries] == list(range(start + 1, writer.seq + 1))
    typed = sum(1 for e in entries if e["change"]["kind"] == "text")
    assert typed == 3 * 14 * 500
    # And the server stored every character.
    notes = server.client(admin.token).api("GET", meeting.api + "/notes", expect=200)
    small = {b["id"]: b["text"] for b in notes["bullets"] if b["id"].startswith("small")}
    assert small == {f"small{i}": "y" * 7000 for i in range(3)}
