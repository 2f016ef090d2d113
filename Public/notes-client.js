// The notes client: one meeting's outline kept in sync with the server over the meeting socket
// (docs/protocol.md). Pure — no DOM and no socket: frames go out through `send` and come in
// through `handle`, so the page, the node tests and the simulation all run the same code.
//
// Model
// - `server` is the outline as the server confirmed it: every entry applied in seq order.
// - `queue` holds this client's changes the server has not confirmed yet, in the order they were
//   made; a prefix of it has been sent. Each change gets its clientSeq when first sent and keeps
//   it when sent again after a reconnect (the server skips what it already applied).
// - `local`, what the person sees, is `server` with the queue replayed on top: structure changes
//   re-applied with the server's rules, and per bullet the pending text operations kept
//   transformed against the server's revision, as ot.js's client does (at most one operation per
//   bullet in flight; later typing composes into the next one).
// - The server echoes every change to every connection; our own echo (same client id) is the
//   confirmation. One frame is in flight at a time, so when the server refuses a frame (all or
//   nothing) its changes are retried one per frame and only the refused one is rolled back.

import { TextOperation } from "./ot.js";
import { between, spread, MAX_KEY_LENGTH } from "./order.js";
import { Outline, NotesError, MEETING, MAX_TEXT, compareBullets } from "./notes-doc.js";

export { MEETING, MAX_TEXT, NotesError, compareBullets };

/** Most changes per frame (the server's limit). */
export const MAX_CHANGES = 500;
/** Frame size we aim under (the server closes the socket above 64 KiB). */
export const MAX_FRAME_BYTES = 60 * 1024;
/** Undo steps kept. */
export const MAX_UNDO = 200;

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/**
 * The single operation turning `a` into `b`: keeps the common prefix and suffix (in UTF-16 code
 * units, never ending the prefix or starting the suffix inside a surrogate pair) and replaces
 * the middle.
 */
export function diff(a, b) {
  const max = Math.min(a.length, b.length);
  let p = 0;
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  if (p > 0 && isHigh(a.charCodeAt(p - 1))) p--;
  let s = 0;
  while (s < max - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  if (s > 0 && isLow(a.charCodeAt(a.length - s))) s--;
  return new TextOperation().retain(p).delete(a.length - p - s).insert(b.slice(p, b.length - s)).retain(s);
}

/** Where offset `index` of a text ends up after `op` (ot.js: an insert at the offset pushes it right). */
export function transformIndex(index, op) {
  let newIndex = index;
  for (const c of op.ops) {
    if (TextOperation.isRetain(c)) index -= c;
    else if (TextOperation.isInsert(c)) newIndex += c.length;
    else { newIndex -= Math.min(index, -c); index += c; }
    if (index < 0) break;
  }
  return newIndex;
}

/** Splits text into pieces of at most `max` UTF-16 units without splitting a surrogate pair. */
export function splitText(text, max = MAX_TEXT) {
  if (text.length <= max) return [text];
  const pieces = [];
  for (let i = 0; i < text.length;) {
    let end = Math.min(text.length, i + max);
    if (end < text.length && isLow(text.charCodeAt(end)) && isHigh(text.charCodeAt(end - 1))) end--;
    pieces.push(text.slice(i, end));
    i = end;
  }
  return pieces;
}

/** UTF-8 length of a string (what a frame costs on the wire). */
export function utf8Length(str) {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (isHigh(c) && i + 1 < str.length && isLow(str.charCodeAt(i + 1))) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

const place = (b) => (b ? `${b.parent}\u0000${b.order}\u0000${b.deleted}` : "");

/** A random id of 22 [A-Za-z0-9_-] (crypto.randomUUID is missing on plain-http pages). */
export function randomId() {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let out = "";
  for (const byte of globalThis.crypto.getRandomValues(new Uint8Array(22))) out += alphabet[byte & 63];
  return out;
}

export class NotesClient {
  /**
   * @param {object} options
   * @param {string} options.clientId this page load's client id (1–64 of A-Za-z0-9_-), kept across reconnects
   * @param {(frame: object) => void} options.send sends one frame object (the caller JSON-encodes it)
   * @param {(event: object) => void} [options.onChange] {type: "bullet", id, op, local} after a text change,
   *   {type: "structure", id, parent, oldParent} after a bullet moved, appeared or was deleted,
   *   {type: "reset"} after a snapshot, {type: "carets"}, {type: "error", code, message, id}, {type: "state"}
   * @param {(fn: Function) => void} [options.schedule] runs `fn` once soon (default queueMicrotask);
   *   sends are coalesced into one frame per call
   * @param {() => string} [options.newId] bullet ids (default randomId)
   */
  constructor({ clientId, send, onChange = () => {}, schedule = (fn) => queueMicrotask(fn), newId = randomId, maxFrameBytes = MAX_FRAME_BYTES, maxChanges = MAX_CHANGES }) {
    this.clientId = clientId;
    this.sendFrame = send;
    this.onChange = onChange;
    this.schedule = schedule;
    this.newId = newId;
    this.maxFrameBytes = maxFrameBytes;
    this.maxChanges = maxChanges;

    this.server = new Outline();
    this.local = new Outline();
    /** Own changes not confirmed yet, in order: {kind, bullet, …, clientSeq, sent}. */
    this.queue = [];
    /** bullet id → its pending text items, in queue order. */
    this.chains = new Map();
    /** Ids whose place in `local` may differ from `server`. */
    this.dirty = new Set();
    this.nextClientSeq = 1;
    /** Last notes seq applied; null until the first snapshot. */
    this.lastSeq = null;
    /** Entries that arrived ahead of a gap, by seq. */
    this.stash = new Map();

    this.online = false;
    /** Caught up (snapshot or notesReady seen) on the current connection: changes may be sent. */
    this.ready = false;
    this.inFlight = null;
    this.isolate = 0;
    this.staleRetries = 0;
    this.readOnly = false;
    this.frameCounter = 0;
    this.flushScheduled = false;
    /** `since` of the latest hello sent. */
    this.helloSince = null;

    this.undoStack = [];
    this.redoStack = [];
    this.undoGroup = null;
    this.dontCompose = false;
    this.replaying = false;

    /** Own caret {bullet, offset} or null; others' carets as the server relays them. */
    this.caret = null;
    this.caretDirty = false;
    this.carets = [];
    /** bullet id → the op of its latest text change not typed here (for transformCaret). */
    this.lastOps = new Map();
  }

  // MARK: Reading

  /** The bullet as this client sees it ({id, parent, order, text, deleted}); treat as read-only. */
  bullet(id) {
    return this.local.get(id);
  }

  /** Live children of a section or bullet, in order. */
  children(parent = MEETING) {
    return this.local.children(parent);
  }

  text(id) {
    return this.local.get(id)?.text;
  }

  /** Number of own changes the server has not confirmed yet. */
  get pending() {
    return this.queue.length;
  }

  /** True when nothing is waiting to be sent or confirmed. */
  get settled() {
    return this.queue.length === 0 && !this.inFlight;
  }

  // MARK: Connection

  /** The socket opened: (re)starts the notes stream from the last applied seq. */
  connected() {
    this.online = true;
    this.inFlight = null;
    this.isolate = 0;
    this.#hello();
    if (this.caret) this.caretDirty = true;
    this.#scheduleFlush();
  }

  /** The socket closed: everything unconfirmed is sent again after the next catch-up. */
  disconnected() {
    this.online = false;
    this.ready = false;
    this.inFlight = null;
    this.isolate = 0;
    for (const item of this.queue) item.sent = false;
    this.stash.clear(); // the catch-up on the next connection sends them again
    this.#emit({ type: "state" });
  }

  #hello(since = this.lastSeq) {
    this.ready = false;
    this.helloSince = since;
    this.sendFrame({ type: "hello", client: this.clientId, since });
  }

  /** Handles one frame from the server (already parsed). Frames for the board are ignored. */
  handle(frame) {
    switch (frame?.type) {
      case "notesSnapshot": return this.#snapshot(frame);
      case "notes": return this.#receive(frame.changes ?? []);
      case "notesReady":
        if (this.lastSeq === null) return; // a snapshot is on its way
        if (this.lastSeq < frame.seq) return this.#hello(); // a gap: ask again
        this.ready = true;
        this.#emit({ type: "state" });
        return this.#scheduleFlush();
      case "notesAck":
        if (this.inFlight && frame.id === this.inFlight.id) {
          this.inFlight = null;
          this.staleRetries = 0;
          if (this.isolate > 0) this.isolate--;
          this.#scheduleFlush();
        }
        return;
      case "error":
        if (this.inFlight && frame.id === this.inFlight.id) return this.#refused(frame);
        if (frame.id == null) this.#emit({ type: "error", code: frame.code, message: frame.message });
        return;
      case "resync":
        if (this.online) this.#hello();
        return;
      case "carets":
        this.carets = (frame.carets ?? []).filter((c) => c.client !== this.clientId);
        return this.#emit({ type: "carets" });
      default:
        return;
    }
  }

  // MARK: Incoming

  #receive(entries) {
    for (const entry of entries) {
      if (this.lastSeq !== null && entry.seq <= this.lastSeq) continue;
      this.stash.set(entry.seq, entry);
    }
    if (this.lastSeq === null) return;
    while (this.stash.has(this.lastSeq + 1)) {
      const entry = this.stash.get(this.lastSeq + 1);
      this.stash.delete(entry.seq);
      this.lastSeq = entry.seq;
      try {
        this.#apply(entry);
      } catch (error) {
        // Our copy disagrees with the server's (a bug or lost entries): start over from a snapshot.
        this.#emit({ type: "error", code: "diverged", message: String(error?.message ?? error) });
        return this.#resnapshot();
      }
    }
    if (this.stash.size > 50_000) this.#hello();
  }

  #resnapshot() {
    this.stash.clear();
    this.lastSeq = null;
    if (this.online) this.#hello(null);
  }

  #apply(entry) {
    if (entry.client === this.clientId) {
      if (entry.clientSeq >= this.nextClientSeq) this.nextClientSeq = entry.clientSeq + 1;
      const item = this.queue[0]?.clientSeq === entry.clientSeq ? this.queue[0] : this.queue.find((i) => i.clientSeq === entry.clientSeq);
      if (item) return this.#confirm(item, entry);
    }
    this.#applyRemote(entry);
  }

  /** Applies an entry to `server`, checking that a text op is based on the revision we have. */
  #applyToServer(change) {
    if (change.kind === "text") {
      const b = this.server.get(change.bullet);
      if (!b || b.rev !== change.rev) throw new Error(`text change at rev ${change.rev} for bullet ${change.bullet} at rev ${b?.rev}`);
    }
    this.server.apply(change);
  }

  #applyRemote(entry) {
    const change = entry.change;
    if (change.kind !== "text") {
      const touched = this.server.has(change.bullet) ? this.server.affected(change) : [change.bullet];
      this.#applyToServer(change);
      if (this.queue.length === 0 && this.dirty.size === 0) {
        // Nothing pending: local equals server, so apply the same change to it.
        const before = this.#places(this.local.has(change.bullet) ? this.local.affected(change) : [change.bullet]);
        this.local.apply(change);
        this.#emitPlaces(before);
      } else {
        this.#rebuild(touched);
      }
      return;
    }
    const id = change.bullet;
    const wasDeleted = this.server.get(id)?.deleted;
    this.#applyToServer(change);
    let op = TextOperation.fromJSON(change.op);
    for (const item of this.chains.get(id) ?? []) [item.op, op] = TextOperation.transform(item.op, op);
    const b = this.local.get(id);
    b.text = op.apply(b.text);
    if (this.queue.length === 0) b.rev = this.server.get(id).rev;
    this.#textChanged(id, op, false);
    if (wasDeleted) this.#rebuild([id]);
  }

  /** Our own change came back: it is on the server now. */
  #confirm(item, entry) {
    // Anything older still queued was refused or skipped by the server: it will never apply.
    while (this.queue[0] !== item) this.#drop(this.queue[0], { code: "skipped", message: "The server did not apply this change" });
    const change = entry.change;
    const id = change.bullet;
    const serverTextBefore = this.server.get(id)?.text;
    this.#applyToServer(change);
    this.queue.shift();
    if (item.kind === "text") {
      const chain = this.chains.get(id);
      chain.shift();
      if (chain.length === 0) this.chains.delete(id);
      const serverOp = TextOperation.fromJSON(change.op);
      if (!serverOp.equals(item.op)) {
        // The server merged it differently (possible after a reconnect): rebase what is still pending.
        const ours = item.op.apply(serverTextBefore);
        this.#rebaseText(id, diff(ours, this.server.get(id).text));
      }
    }
    if (this.queue.length === 0) this.#reconcile();
    else if (item.kind === "text") this.#scheduleFlush(); // the bullet's next op may go now
  }

  /** With nothing pending, local must equal server: fixes (and reports) any difference. */
  #reconcile() {
    const before = this.#places([...this.dirty]);
    for (const id of this.dirty) this.#restore(id);
    this.dirty.clear();
    this.#emitPlaces(before);
    for (const [id, s] of this.server.bullets) {
      const l = this.local.get(id);
      if (l) l.rev = s.rev;
    }
  }

  /**
   * After the server changed the bullets `touched` while own changes are pending: resets every
   * bullet whose local place may differ to the server's and replays the queue on top.
   */
  #rebuild(touched) {
    const ids = new Set([...this.dirty, ...touched]);
    const before = this.#places(ids);
    this.orphanText = new Map();
    for (const id of ids) this.#restore(id);
    this.dirty.clear();
    for (const item of this.queue) this.#replay(item);
    this.orphanText = null;
    for (const id of this.dirty) if (!before.has(id)) before.set(id, place(this.server.get(id)));
    this.#emitPlaces(before);
  }

  /** Puts a bullet's place in `local` back to the server's (its local text stays). */
  #restore(id) {
    const s = this.server.get(id);
    const l = this.local.get(id);
    if (!s) {
      if (l) {
        this.orphanText?.set(id, l.text);
        this.local.remove(id);
      }
    } else if (!l) {
      this.local.put({ ...s });
    } else if (place(l) !== place(s)) {
      this.local.setPlace(id, s.parent, s.order, s.deleted);
    }
  }

  /** Re-applies one queued change to `local` (a refused one changes nothing: the server refuses it too). */
  #replay(item) {
    try {
      if (item.kind === "text") {
        const b = this.local.get(item.bullet);
        if (b?.deleted) {
          let parent;
          try { parent = this.local.liveParent(b.parent); } catch { parent = MEETING; }
          this.local.setPlace(b.id, parent, b.order, false);
          this.dirty.add(b.id);
        }
        return;
      }
      const ids = this.local.has(item.bullet) ? this.local.affected(item) : [item.bullet];
      if (item.kind === "create") {
        const text = this.orphanText?.get(item.bullet);
        this.local.apply(item);
        if (text !== undefined) this.local.get(item.bullet).text = text;
      } else {
        this.local.apply(item);
      }
      for (const id of ids) this.dirty.add(id);
    } catch (error) {
      if (!(error instanceof NotesError)) throw error;
    }
  }

  #places(ids) {
    const map = new Map();
    for (const id of ids) if (!map.has(id)) map.set(id, place(this.local.get(id)));
    return map;
  }

  #emitPlaces(before) {
    for (const [id, was] of before) {
      const b = this.local.get(id);
      if (place(b) === was) continue;
      const oldParent = was ? was.split("\u0000")[0] : null;
      this.#emit({ type: "structure", id, parent: b ? b.parent : null, oldParent, deleted: !b || b.deleted });
    }
  }

  #snapshot(frame) {
    const historyLost = this.helloSince != null && frame.seq < this.helloSince; // e.g. restored from a backup
    if (this.lastSeq !== null && frame.seq <= this.lastSeq && !historyLost) {
      // The answer to an earlier hello: we are further along already.
      this.ready = true;
      return this.#scheduleFlush();
    }
    const snap = new Outline(frame.bullets ?? []);
    const applied = (i) => i.clientSeq != null && i.clientSeq <= frame.clientSeq;
    // Rebase each bullet's pending text: drop what the server applied, transform the rest
    // against the difference between what we knew and the snapshot's text.
    for (const [id, chain] of this.chains) {
      let base = this.server.get(id)?.text ?? this.queue.find((i) => i.kind === "create" && i.bullet === id)?.text;
      let k = 0;
      while (k < chain.length && applied(chain[k])) base = chain[k++].op.apply(base);
      const rest = chain.slice(k);
      const now = snap.get(id)?.text;
      if (now !== undefined && base !== undefined) {
        let d = diff(base, now);
        for (const item of rest) [item.op, d] = TextOperation.transform(item.op, d);
      }
      if (rest.length) this.chains.set(id, rest);
      else this.chains.delete(id);
    }
    this.queue = this.queue.filter((i) => !applied(i));
    for (const item of this.queue) item.sent = false;
    // Text items for bullets that exist neither on the server nor in the queue cannot apply.
    const created = new Set(this.queue.filter((i) => i.kind === "create").map((i) => i.bullet));
    this.queue = this.queue.filter((i) => i.kind !== "text" || snap.has(i.bullet) || created.has(i.bullet));
    for (const [id, chain] of this.chains) {
      const kept = chain.filter((i) => this.queue.includes(i));
      if (kept.length) this.chains.set(id, kept); else this.chains.delete(id);
    }
    this.server = snap;
    this.local = snap.clone();
    this.dirty.clear();
    for (const item of this.queue) this.#replay(item);
    for (const [id, chain] of this.chains) {
      const b = this.local.get(id);
      if (b) for (const item of chain) b.text = item.op.apply(b.text);
    }
    this.nextClientSeq = Math.max(this.nextClientSeq, frame.clientSeq + 1);
    this.undoStack = [];
    this.redoStack = [];
    this.lastOps.clear();
    this.lastSeq = frame.seq;
    for (const seq of [...this.stash.keys()]) if (seq <= frame.seq) this.stash.delete(seq);
    this.ready = true;
    this.staleRetries = 0;
    this.#emit({ type: "reset" });
    this.#receive([]);
    this.#scheduleFlush();
  }

  // MARK: Outgoing

  #scheduleFlush() {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.schedule(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends what can go now: one frame of queued changes (in order), and the caret when it moved. */
  flush() {
    if (!this.online) return;
    if (this.caretDirty) {
      this.caretDirty = false;
      const c = this.caret;
      this.sendFrame({ type: "caret", client: this.clientId, bullet: c ? c.bullet : null, offset: c ? c.offset : 0 });
    }
    if (!this.ready || this.inFlight || this.readOnly) return;
    const changes = [];
    const items = [];
    let bytes = 80 + this.clientId.length;
    const limit = this.isolate > 0 ? 1 : this.maxChanges;
    for (const item of this.queue) {
      if (item.sent) continue;
      if (changes.length >= limit) break;
      // A bullet's next text op waits until the server confirmed the previous one (ot.js).
      if (item.kind === "text" && this.chains.get(item.bullet)[0] !== item) break;
      const change = this.#wire(item);
      const size = utf8Length(JSON.stringify(change)) + 20;
      if (changes.length > 0 && bytes + size > this.maxFrameBytes) break;
      if (item.clientSeq == null) item.clientSeq = this.nextClientSeq++;
      change.clientSeq = item.clientSeq;
      item.sent = true;
      bytes += size;
      changes.push(change);
      items.push(item);
    }
    if (changes.length === 0) return;
    const id = `n${++this.frameCounter}`;
    this.inFlight = { id, items };
    this.sendFrame({ type: "notes", id, client: this.clientId, changes });
  }

  #wire(item) {
    switch (item.kind) {
      case "create": return { kind: "create", bullet: item.bullet, parent: item.parent, order: item.order, text: item.text };
      case "move": return { kind: "move", bullet: item.bullet, parent: item.parent, order: item.order };
      case "delete": return { kind: "delete", bullet: item.bullet };
      default: return { kind: "text", bullet: item.bullet, rev: this.server.get(item.bullet)?.rev ?? 0, op: item.op.toJSON() };
    }
  }

  /** The server refused the frame in flight (it applied none of it). */
  #refused(frame) {
    const items = this.inFlight.items.filter((i) => this.queue.includes(i));
    this.inFlight = null;
    switch (frame.code) {
      case "stale":
      case "conflict":
        // Behind the server's history, or hello missing: catch up, then send the same again.
        for (const item of items) item.sent = false;
        if (++this.staleRetries > 2) this.#resnapshot();
        else this.#hello();
        break;
      case "forbidden":
        this.readOnly = true;
        while (this.queue.length) this.#drop(this.queue[this.queue.length - 1], frame);
        break;
      default:
        if (items.length > 1) {
          // All or nothing: find the refused change by sending them one at a time.
          for (const item of items) item.sent = false;
          this.isolate = items.length;
        } else if (items.length === 1) {
          this.#drop(items[0], frame);
          if (this.isolate > 0) this.isolate--;
        }
    }
    this.#scheduleFlush();
  }

  /** Rolls back one queued change (and, for a create, everything queued for that bullet). */
  #drop(item, reason) {
    const index = this.queue.indexOf(item);
    if (index < 0) return;
    this.queue.splice(index, 1);
    this.#emit({ type: "error", code: reason.code, message: reason.message, id: item.bullet });
    if (item.kind === "create") {
      for (const other of this.queue.filter((i) => i.bullet === item.bullet)) this.queue.splice(this.queue.indexOf(other), 1);
      this.chains.delete(item.bullet);
      this.#rebuild([item.bullet]);
    } else if (item.kind === "text") {
      this.#unchain(item);
      this.#rebuild([item.bullet]);
    } else {
      this.#rebuild([item.bullet]);
    }
  }

  /** Removes a text op from the middle of its bullet's pending ops, undoing its effect locally. */
  #unchain(item) {
    const id = item.bullet;
    const chain = this.chains.get(id);
    const i = chain.indexOf(item);
    let text = this.server.get(id)?.text ?? this.queue.find((q) => q.kind === "create" && q.bullet === id)?.text;
    chain.splice(i, 1);
    if (chain.length === 0) this.chains.delete(id);
    const b = this.local.get(id);
    if (text === undefined || !b) return;
    for (let j = 0; j < i; j++) text = chain[j].op.apply(text);
    let inverse = item.op.invert(text);
    for (let j = i; j < chain.length; j++) [chain[j].op, inverse] = TextOperation.transform(chain[j].op, inverse);
    b.text = inverse.apply(b.text);
    this.#textChanged(id, inverse, false);
  }

  /** The server's text for a bullet moved on by `d` (an op on the text we expected): rebase pending ops. */
  #rebaseText(id, d) {
    if (d.isNoop()) return;
    const chain = this.chains.get(id) ?? [];
    for (const item of chain) [item.op, d] = TextOperation.transform(item.op, d);
    const b = this.local.get(id);
    b.text = d.apply(b.text);
    this.#textChanged(id, d, false);
  }

  // MARK: Local edits

  /** Applies a text operation (TextOperation or components array) to a bullet's current text. */
  editText(id, op) {
    const b = this.#live(id);
    if (!(op instanceof TextOperation)) op = TextOperation.fromJSON(op);
    if (op.baseLength !== b.text.length) throw new Error(`the operation's base length (${op.baseLength}) must equal the text length (${b.text.length})`);
    const text = op.apply(b.text);
    if (text.length > MAX_TEXT) throw new RangeError(`A bullet holds at most ${MAX_TEXT} characters; split the text into several bullets`);
    if (op.isNoop()) return;
    this.#record({ kind: "text", bullet: id, op: op.invert(b.text) });
    this.#localText(id, op);
  }

  /** Replaces a bullet's text, as one operation (common prefix and suffix kept). */
  setText(id, text) {
    this.editText(id, diff(this.#live(id).text, text));
  }

  #live(id) {
    const b = this.local.get(id);
    if (!b) throw new Error(`no bullet ${id}`);
    return b;
  }

  #localText(id, op) {
    const b = this.local.get(id);
    b.text = op.apply(b.text);
    let target = null;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const item = this.queue[i];
      // Never into one that was ever sent: the server may have applied it already.
      if (item.clientSeq != null || item.kind !== "text") break;
      if (item.bullet === id) { target = item; break; }
    }
    if (target) {
      target.op = target.op.compose(op);
    } else {
      const item = { kind: "text", bullet: id, op, clientSeq: null, sent: false };
      this.queue.push(item);
      if (!this.chains.has(id)) this.chains.set(id, []);
      this.chains.get(id).push(item);
      if (b.deleted) {
        const before = this.#places([id]);
        this.#replay(item);
        this.#emitPlaces(before);
      }
    }
    if (this.caret?.bullet === id) this.caret.offset = transformIndex(this.caret.offset, op);
    this.#emit({ type: "bullet", id, op, local: true });
    this.#scheduleFlush();
  }

  /** A structure change made here: applied locally at once (throws NotesError, e.g. "cycle", when refused). */
  #structure(change, inverse) {
    const before = this.#places(this.local.has(change.bullet) ? this.local.affected(change) : [change.bullet]);
    this.local.apply(change);
    const item = { ...change, clientSeq: null, sent: false };
    this.queue.push(item);
    for (const id of before.keys()) this.dirty.add(id);
    if (inverse) this.#record(inverse);
    this.#emitPlaces(before);
    this.#scheduleFlush();
  }

  /**
   * An order key for a new place under `parent` (after / before a sibling, else at the end).
   * When the siblings' keys leave no room, gives them fresh keys first (moves).
   */
  #orderFor(parent, { after = null, before = null } = {}, exclude = null, count = 1) {
    for (let attempt = 0; ; attempt++) {
      const sibs = this.local.children(parent).filter((b) => b.id !== exclude);
      let at = sibs.length;
      if (after != null) { const i = sibs.findIndex((b) => b.id === after); if (i >= 0) at = i + 1; }
      else if (before != null) { const i = sibs.findIndex((b) => b.id === before); if (i >= 0) at = i; }
      const a = at > 0 ? sibs[at - 1].order : null;
      const b = at < sibs.length ? sibs[at].order : null;
      try {
        const key = between(a, b);
        if (count === 1) return [key];
        const tail = spread(count);
        if (key.length + tail[tail.length - 1].length <= MAX_KEY_LENGTH) return tail.map((t) => key + t);
      } catch (error) {
        if (attempt > 0) throw error;
      }
      if (attempt > 0) throw new Error("no room for order keys");
      // Fresh keys for the siblings, leaving a gap where the new ones go.
      const keys = spread(sibs.length + 1);
      sibs.forEach((s, i) => {
        const key = keys[i < at ? i : i + 1];
        if (key !== s.order) this.#structure({ kind: "move", bullet: s.id, parent, order: key }, null);
      });
    }
  }

  /**
   * Creates a bullet under `parent` (default: the parent of `after`/`before`, else the meeting
   * section), after / before a sibling or at the end. Returns its id.
   */
  createBullet({ parent, after = null, before = null, text = "", id } = {}) {
    id ??= this.newId();
    parent ??= this.local.get(after ?? before)?.parent ?? MEETING;
    if (text.length > MAX_TEXT) throw new RangeError(`A bullet holds at most ${MAX_TEXT} characters`);
    const [order] = this.#orderFor(parent, { after, before });
    this.#structure({ kind: "create", bullet: id, parent, order, text }, { kind: "delete", bullet: id });
    return id;
  }

  /** Moves a bullet under `parent` (default: the parent of `after`/`before`), after / before a sibling or at the end. */
  move(id, { parent, after = null, before = null } = {}) {
    const b = this.#live(id);
    parent ??= this.local.get(after ?? before)?.parent ?? b.parent;
    if (parent === id || this.local.wouldCycle(id, parent)) throw new NotesError("cycle", "A bullet cannot move inside itself");
    const inverse = b.deleted ? { kind: "delete", bullet: id } : { kind: "move", bullet: id, parent: b.parent, order: b.order };
    const [order] = this.#orderFor(parent, { after, before }, id);
    this.#structure({ kind: "move", bullet: id, parent, order }, inverse);
  }

  /** Makes a bullet the last child of its previous sibling; false when it has none. */
  indent(id) {
    const b = this.#live(id);
    const sibs = this.local.children(b.parent);
    const i = sibs.findIndex((s) => s.id === id);
    if (i <= 0) return false;
    this.move(id, { parent: sibs[i - 1].id });
    return true;
  }

  /** Moves a bullet out of its parent bullet, right after it; false when it is at the top level. */
  outdent(id) {
    const b = this.#live(id);
    const p = this.local.get(b.parent);
    if (!p) return false;
    this.move(id, { parent: p.parent, after: p.id });
    return true;
  }

  /** Deletes a bullet (its children move up to its parent). */
  remove(id) {
    const b = this.#live(id);
    if (b.deleted) return;
    const children = this.local.children(id).map((c) => ({ id: c.id, order: c.order }));
    this.#structure({ kind: "delete", bullet: id }, { kind: "restore", bullet: id, parent: b.parent, order: b.order, children });
  }

  /**
   * Pastes lines as new bullets right after `afterId` (or at the end of `parent` when afterId is
   * null), one per line; a line longer than a bullet holds becomes several. Returns the new ids.
   * The changes go out in as many frames as they need.
   */
  pasteLines(afterId, lines, { parent } = {}) {
    const texts = lines.flatMap((line) => splitText(line));
    if (texts.length === 0) return [];
    parent ??= afterId != null ? this.#live(afterId).parent : MEETING;
    const keys = this.#orderFor(parent, { after: afterId }, null, texts.length);
    const ids = [];
    this.batch(() => {
      texts.forEach((text, i) => {
        const id = this.newId();
        this.#structure({ kind: "create", bullet: id, parent, order: keys[i], text }, { kind: "delete", bullet: id });
        ids.push(id);
      });
    });
    return ids;
  }

  // MARK: Undo

  /** Runs `fn`; everything it changes is one undo step. */
  batch(fn) {
    if (this.undoGroup) return fn();
    this.undoGroup = [];
    try {
      return fn();
    } finally {
      const group = this.undoGroup;
      this.undoGroup = null;
      if (group.length === 1) this.#record(group[0]);
      else if (group.length > 1) this.#record({ kind: "group", entries: group });
    }
  }

  /** Starts a new undo step even if the next edit continues the current typing run. */
  breakUndoGroup() {
    this.dontCompose = true;
  }

  #record(entry) {
    if (this.replaying) return;
    if (this.undoGroup) { this.undoGroup.push(entry); return; }
    this.redoStack = [];
    const top = this.undoStack[this.undoStack.length - 1];
    if (!this.dontCompose && entry.kind === "text" && top?.kind === "text" && top.bullet === entry.bullet &&
        entry.op.shouldBeComposedWithInverted(top.op)) {
      this.undoStack[this.undoStack.length - 1] = { kind: "text", bullet: entry.bullet, op: entry.op.compose(top.op) };
    } else {
      this.undoStack.push(entry);
      if (this.undoStack.length > MAX_UNDO) this.undoStack.shift();
    }
    this.dontCompose = false;
  }

  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  /** Undoes this client's latest change that still applies; false when there is none. */
  undo() {
    return this.#step(this.undoStack, this.redoStack);
  }

  /** Redoes the latest undone change; false when there is none. */
  redo() {
    return this.#step(this.redoStack, this.undoStack);
  }

  #step(from, to) {
    while (from.length) {
      const entry = from.pop();
      this.replaying = true;
      let inverse;
      try {
        inverse = this.#perform(entry);
      } finally {
        this.replaying = false;
      }
      if (inverse) {
        to.push(inverse);
        this.dontCompose = true;
        return true;
      }
    }
    return false;
  }

  /** Performs an undo entry and returns the entry that reverses it (null when it no longer applies). */
  #perform(entry) {
    const b = this.local.get(entry.bullet);
    switch (entry.kind) {
      case "group": {
        // Steps run last to first; their inverses, in the order they ran, form the reverse group.
        const inverses = [];
        for (let i = entry.entries.length - 1; i >= 0; i--) {
          const inverse = this.#perform(entry.entries[i]);
          if (inverse) inverses.push(inverse);
        }
        return inverses.length ? { kind: "group", entries: inverses } : null;
      }
      case "text": {
        if (!b || entry.op.baseLength !== b.text.length) return null;
        const inverse = entry.op.invert(b.text);
        if (entry.op.apply(b.text).length > MAX_TEXT) return null;
        this.#localText(entry.bullet, entry.op);
        return { kind: "text", bullet: entry.bullet, op: inverse };
      }
      case "delete": {
        if (!b || b.deleted) return null;
        const children = this.local.children(b.id).map((c) => ({ id: c.id, order: c.order }));
        const inverse = { kind: "restore", bullet: b.id, parent: b.parent, order: b.order, children };
        this.#structure({ kind: "delete", bullet: b.id }, null);
        return inverse;
      }
      case "move":
      case "restore": {
        if (!b) return null;
        const inverse = b.deleted ? { kind: "delete", bullet: b.id } : { kind: "move", bullet: b.id, parent: b.parent, order: b.order };
        try {
          this.#structure({ kind: "move", bullet: b.id, parent: entry.parent, order: entry.order }, null);
        } catch (error) {
          if (error instanceof NotesError) return null;
          throw error;
        }
        for (const child of entry.children ?? []) {
          const c = this.local.get(child.id);
          if (c && !c.deleted && c.parent === entry.parent) {
            this.#structure({ kind: "move", bullet: c.id, parent: b.id, order: child.order }, null);
          }
        }
        return inverse;
      }
      default:
        return null;
    }
  }

  /** Moves the text undo/redo steps of a bullet past an op applied to its text by someone else. */
  #transformStacks(id, op) {
    for (const stack of [this.undoStack, this.redoStack]) {
      let o = op;
      const visit = (entry) => {
        if (entry.kind === "group") {
          for (let i = entry.entries.length - 1; i >= 0; i--) visit(entry.entries[i]);
        } else if (entry.kind === "text" && entry.bullet === id && o) {
          try {
            [entry.op, o] = TextOperation.transform(entry.op, o);
          } catch {
            o = null; // out of step: leave the older steps alone (they will be skipped if they no longer fit)
          }
        }
      };
      for (let i = stack.length - 1; i >= 0; i--) visit(stack[i]);
    }
  }

  /** Bookkeeping after a text change that was not typed here (remote op, rollback, rebase). */
  #textChanged(id, op, local) {
    this.#transformStacks(id, op);
    if (this.caret?.bullet === id) this.caret.offset = transformIndex(this.caret.offset, op);
    for (const c of this.carets) if (c.bullet === id) c.offset = transformIndex(c.offset, op);
    this.lastOps.set(id, op);
    this.#emit({ type: "bullet", id, op, local });
  }

  // MARK: Carets

  /** Records (and shares) where this person's caret is; `bullet` null when not editing. */
  setCaret(bullet, offset = 0) {
    this.caret = bullet == null ? null : { bullet, offset };
    this.caretDirty = true;
    this.#scheduleFlush();
  }

  /**
   * Where `offset` in a bullet's text ends up after the latest change to it that was not typed
   * here (the op of the last {type: "bullet", local: false} event), or after `op` if given.
   */
  transformCaret(bulletId, offset, op = this.lastOps.get(bulletId)) {
    return op ? transformIndex(offset, op) : offset;
  }

  #emit(event) {
    this.onChange(event);
  }
}
