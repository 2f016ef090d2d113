// A deterministic in-memory network and notes server for testing NotesClient: the server keeps
// the same rules as the real one (Public/notes-doc.js is the port of NotesDocument.swift, text
// ops transformed against per-bullet history by revision, structure last-writer-wins, all or
// nothing per frame, clientSeq dedupe, echo to every connection including the sender).
// Like the real server, each connection has two writers — direct replies (acks, errors,
// snapshot, catch-up) and the broadcast of committed entries — each in order, but in no fixed
// order between them. Messages on one socket keep their order; across sockets delays are random.
import { mulberry32 } from "../fixtures/make-vectors.mjs";
import { Outline, NotesError } from "../../Public/notes-doc.js";
import { TextOperation } from "../../Public/ot.js";
import { NotesClient } from "../../Public/notes-client.js";

const MAX_MESSAGE = 64 * 1024;

/** A discrete-event clock: events run in time order (FIFO for equal times). */
export class Net {
  constructor(seed = 1) {
    this.random = mulberry32(seed);
    this.now = 0;
    this.heap = [];
    this.counter = 0;
  }

  /** Runs `fn` after `delay` ticks; returns the event (set .cancelled to skip it). */
  at(delay, fn) {
    const ev = { time: this.now + Math.max(0, delay), n: this.counter++, fn, cancelled: false };
    const h = this.heap;
    h.push(ev);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
    return ev;
  }

  #pop() {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }

  /** Processes events until none are left (or `until` time is reached). */
  run(until = Infinity, maxEvents = 10_000_000) {
    let n = 0;
    while (this.heap.length && this.heap[0].time <= until) {
      const ev = this.#pop();
      this.now = ev.time;
      if (!ev.cancelled) ev.fn();
      if (++n > maxEvents) throw new Error("the network did not go quiet");
    }
    if (until !== Infinity) this.now = Math.max(this.now, until);
  }

  int(n) {
    return Math.floor(this.random() * n);
  }

  pick(list) {
    return list[this.int(list.length)];
  }
}

const less = (a, b) => a.time < b.time || (a.time === b.time && a.n < b.n);

/** One direction of one writer: in order, each message after a random delay. */
class Channel {
  constructor(net, delay, deliver) {
    this.net = net;
    this.delay = delay;
    this.deliver = deliver;
    this.last = 0;
    this.pending = new Set();
  }

  push(message) {
    const t = Math.max(this.last, this.net.now + this.delay());
    this.last = t;
    const ev = this.net.at(t - this.net.now, () => {
      this.pending.delete(ev);
      this.deliver(message);
    });
    ev.message = message;
    this.pending.add(ev);
  }

  /** Drops the undelivered messages `keep` refuses. */
  drop(keep = () => false) {
    for (const ev of this.pending) {
      if (!keep(ev.message)) {
        ev.cancelled = true;
        this.pending.delete(ev);
      }
    }
  }
}

/** The notes server of one meeting. */
export class FakeServer {
  constructor(net, { sections = [], historyLimit = Infinity } = {}) {
    this.net = net;
    this.doc = new Outline([], sections);
    this.seq = 0;
    /** Every committed entry; log[i] has seq logStart + i + 1. */
    this.log = [];
    this.logStart = 0;
    this.clientSeqs = new Map();
    /** bullet id → {start, ops} (ops take the bullet from revision `start` on). */
    this.history = new Map();
    this.historyLimit = historyLimit;
    this.conns = new Set();
    /** Every notes frame received, parsed, with the reply (for assertions). */
    this.frames = [];
    this.violations = [];
    this.carets = new Map();
  }

  connect(peer, delays) {
    const conn = new Conn(this, peer, delays);
    this.conns.add(conn);
    return conn;
  }

  receive(conn, text) {
    if (text.length > MAX_MESSAGE && new TextEncoder().encode(text).length > MAX_MESSAGE) {
      this.violations.push(`message of ${text.length} units closes the socket (1009)`);
      conn.peer.drop();
      return;
    }
    const frame = JSON.parse(text);
    switch (frame.type) {
      case "hello": return this.hello(conn, frame);
      case "notes": return this.notes(conn, frame);
      case "caret":
        this.carets.set(conn, { client: frame.client, name: conn.peer.name, bullet: frame.bullet, offset: frame.offset });
        for (const c of this.conns) c.broadcast({ type: "carets", carets: [...this.carets.values()] });
        return;
      default:
        conn.reply({ type: "error", id: frame.id ?? null, code: "malformed", message: "unknown type" });
    }
  }

  hello(conn, frame) {
    conn.joined = true;
    const since = frame.since;
    if (Number.isInteger(since) && since >= this.logStart && since <= this.seq) {
      for (let from = since; from < this.seq; from += 2000) {
        conn.reply({ type: "notes", changes: this.log.slice(from - this.logStart, Math.min(this.seq, from + 2000) - this.logStart) });
      }
      conn.reply({ type: "notesReady", seq: this.seq });
    } else {
      conn.reply({ type: "notesSnapshot", seq: this.seq, clientSeq: this.clientSeqs.get(frame.client) ?? 0,
                   bullets: [...this.doc.bullets.values()].map((b) => ({ ...b })) });
    }
  }

  notes(conn, frame) {
    const record = { frame, reply: null };
    this.frames.push(record);
    const reply = (r) => { record.reply = r; conn.reply(r); };
    if (!conn.joined) return reply({ type: "error", id: frame.id, code: "conflict", message: "Send hello before editing the notes" });
    if (frame.changes.length > 500) return reply({ type: "error", id: frame.id, code: "tooLarge", message: "At most 500 changes" });
    const doc = this.doc.clone();
    const added = new Map();
    let applied = this.clientSeqs.get(frame.client) ?? 0;
    const entries = [];
    const history = (id, rev) => {
      const h = this.history.get(id) ?? { start: 0, ops: [] };
      if (rev < h.start) throw new NotesError("stale", "Revision too old");
      return [...h.ops.slice(rev - h.start), ...(added.get(id) ?? [])];
    };
    try {
      let lastClientSeq = -Infinity;
      for (const { clientSeq, ...change } of frame.changes) {
        if (!Number.isInteger(clientSeq) || clientSeq <= lastClientSeq) this.violations.push(`clientSeq not increasing in ${frame.id}`);
        lastClientSeq = clientSeq;
        if (clientSeq <= applied) continue;
        const result = doc.apply(change, history);
        if (result.kind === "text") {
          if (!added.has(result.bullet)) added.set(result.bullet, []);
          added.get(result.bullet).push(TextOperation.fromJSON(result.op));
        }
        if (result.kind === "create") added.set(result.bullet, []);
        applied = clientSeq;
        entries.push({ seq: this.seq + entries.length + 1, client: frame.client, clientSeq, userID: null, change: result, at: "" });
      }
    } catch (error) {
      if (!(error instanceof NotesError)) throw error;
      return reply({ type: "error", id: frame.id, code: error.code, message: error.message });
    }
    this.doc = doc;
    this.clientSeqs.set(frame.client, applied);
    for (const [id, ops] of added) {
      const created = entries.some((e) => e.change.kind === "create" && e.change.bullet === id);
      const h = created ? { start: 0, ops: [] } : (this.history.get(id) ?? { start: 0, ops: [] });
      h.ops.push(...ops);
      while (h.ops.length > this.historyLimit) { h.ops.shift(); h.start++; }
      this.history.set(id, h);
    }
    this.seq += entries.length;
    this.log.push(...entries);
    if (entries.length) for (const c of this.conns) if (c.joined) c.broadcast({ type: "notes", changes: entries });
    reply({ type: "notesAck", id: frame.id, seq: this.seq });
  }

  /** The connection fell behind: its queued broadcasts are dropped and it is told to resync. */
  overflow(conn) {
    conn.down.drop();
    conn.broadcast({ type: "resync" });
  }

  /** Goes back to the state after entry `seq` (as if restored from a backup): later entries are lost. */
  rewind(seq) {
    const kept = this.log.slice(0, seq - this.logStart);
    this.doc = new Outline([], this.doc.sections);
    this.history = new Map();
    this.clientSeqs = new Map();
    for (const e of kept) {
      this.doc.apply(e.change);
      if (e.change.kind === "create") this.history.set(e.change.bullet, { start: 0, ops: [] });
      if (e.change.kind === "text") this.history.get(e.change.bullet).ops.push(TextOperation.fromJSON(e.change.op));
      this.clientSeqs.set(e.client, e.clientSeq);
    }
    this.log = kept;
    this.seq = seq;
  }

  /** Forgets the op log (as if restored from a snapshot): older `since` values get a snapshot. */
  forgetLog() {
    this.logStart = this.seq;
    this.log = [];
  }

  /** Non-deleted bullets as [id, parent, order, text], sorted by id. */
  view() {
    return view(this.doc);
  }
}

/** Non-deleted bullets of an outline as [id, parent, order, text], sorted by id. */
export function view(outline) {
  return [...outline.bullets.values()].filter((b) => !b.deleted)
    .map((b) => [b.id, b.parent, b.order, b.text]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

class Conn {
  constructor(server, peer, { up, reply, down }) {
    this.server = server;
    this.peer = peer;
    this.joined = false;
    this.open = true;
    const net = server.net;
    const toClient = (text) => { if (this.open) peer.receive(JSON.parse(text)); };
    this.upChannel = new Channel(net, up, (text) => server.receive(this, text));
    this.replies = new Channel(net, reply, toClient);
    this.down = new Channel(net, down, toClient);
  }

  send(frame) {
    this.upChannel.push(JSON.stringify(frame));
  }

  reply(frame) {
    if (this.open) this.replies.push(JSON.stringify(frame));
  }

  broadcast(frame) {
    if (this.open) this.down.push(JSON.stringify(frame));
  }

  /** Closes: nothing more reaches the client; frames on their way to the server may or may not arrive. */
  close() {
    this.open = false;
    this.server.conns.delete(this);
    this.server.carets.delete(this);
    this.replies.drop();
    this.down.drop();
    const net = this.server.net;
    this.upChannel.drop(() => net.random() < 0.5);
  }
}

/** One person's page: a NotesClient and its (re)connections. */
export class Peer {
  constructor(net, server, name, { up = () => 1 + net.int(20), reply = () => 1 + net.int(20), down = () => 1 + net.int(20), events = false } = {}) {
    this.net = net;
    this.server = server;
    this.name = name;
    this.delays = { up, reply, down };
    this.conn = null;
    this.sent = [];
    this.events = [];
    /** Every {type: "error"} event (a "diverged" one means the client had to start over). */
    this.errors = [];
    this.violations = [];
    this.awaiting = null;
    this.seqs = new Map();
    this.maxSeq = 0;
    let n = 0;
    this.client = new NotesClient({
      clientId: name,
      send: (frame) => {
        this.sent.push(frame);
        if (frame.type === "notes") this.checkFrame(frame);
        if (this.conn) this.conn.send(frame);
      },
      onChange: (event) => {
        if (events) this.events.push(event);
        if (event.type === "error") this.errors.push(event);
      },
      schedule: (fn) => net.at(0, fn),
      newId: () => `${name}-b${++n}`,
    });
  }

  /** Protocol checks on the client's own frames: one in flight, clientSeqs new or resent, in order. */
  checkFrame(frame) {
    if (this.awaiting) this.violations.push(`${frame.id} sent while ${this.awaiting} had no reply`);
    this.awaiting = frame.id;
    let previous = 0;
    for (const change of frame.changes) {
      if (change.clientSeq <= previous) this.violations.push(`${frame.id}: clientSeq ${change.clientSeq} after ${previous}`);
      previous = change.clientSeq;
      const known = this.seqs.get(change.clientSeq);
      if (known !== undefined && known !== change.bullet) this.violations.push(`clientSeq ${change.clientSeq} reused for another change`);
      if (known === undefined && change.clientSeq <= this.maxSeq) this.violations.push(`new change got old clientSeq ${change.clientSeq}`);
      this.seqs.set(change.clientSeq, change.bullet);
      this.maxSeq = Math.max(this.maxSeq, change.clientSeq);
    }
  }

  receive(frame) {
    if ((frame.type === "notesAck" || frame.type === "error") && frame.id === this.awaiting) this.awaiting = null;
    this.client.handle(frame);
  }

  get online() {
    return this.conn !== null;
  }

  connect() {
    this.conn = this.server.connect(this, this.delays);
    this.client.connected();
  }

  /** The socket drops (the server side forgets the connection too). */
  drop() {
    if (!this.conn) return;
    this.conn.close();
    this.conn = null;
    this.awaiting = null;
    this.client.disconnected();
  }

  view() {
    return view(this.client.local);
  }
}

/**
 * Checks a client's bookkeeping: its copy of the server equals the server's log replayed up to
 * its lastSeq, and what it shows equals that copy with its pending changes replayed on top.
 * Returns a description of the first problem, or null.
 */
export function checkClient(peer, server) {
  const c = peer.client;
  if (c.lastSeq === null || server.logStart !== 0) return null;
  const full = (o) => JSON.stringify([...o.bullets.values()].map((b) => [b.id, b.parent, b.order, b.text, b.rev, b.deleted]).sort());
  const ref = new Outline();
  for (const e of server.log.slice(0, c.lastSeq)) ref.apply(e.change);
  if (full(ref) !== full(c.server)) return `${peer.name}: its copy of the server at seq ${c.lastSeq} differs`;
  const expected = c.server.clone();
  for (const item of c.queue) {
    try {
      if (item.kind !== "text") expected.apply(item);
      else {
        const b = expected.get(item.bullet);
        if (b?.deleted) expected.setPlace(b.id, expected.liveParent(b.parent), b.order, false);
      }
    } catch (error) {
      if (!(error instanceof NotesError)) throw error;
    }
  }
  for (const [id, chain] of c.chains) {
    const b = expected.get(id);
    if (b) for (const item of chain) b.text = item.op.apply(b.text);
  }
  const shown = (o) => JSON.stringify([...o.bullets.values()].map((b) => [b.id, b.parent, b.order, b.text, b.deleted]).sort());
  if (shown(expected) !== shown(c.local)) return `${peer.name}: what it shows is not the server plus its pending changes`;
  return null;
}
