// Many NotesClients editing one meeting's notes on the REAL server over real WebSockets:
// random delays before each send, random disconnects and reconnects, random structure and text
// edits. At the end everything quiesces and every client's outline (non-deleted bullets: id,
// parent, order, text) must equal a snapshot taken on a fresh connection.
//
//   node --experimental-websocket Tests/sim/notes-sim.mjs --base http://127.0.0.1:PORT \
//     --cookie TOKEN1,TOKEN2 --meeting /api/spaces/S/series/R/meetings/D --clients 20 --seconds 20 --seed 7
//
// Prints a JSON summary on stdout; exits 1 when a client diverged or did not settle, 2 on bad
// arguments. `runSim(options)` does the same for callers that import it.
import { pathToFileURL } from "node:url";
import { NotesClient, MEETING } from "../../Public/notes-client.js";
import { NotesError } from "../../Public/notes-doc.js";
import { TextOperation } from "../../Public/ot.js";
import { mulberry32 } from "../fixtures/make-vectors.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Non-deleted bullets as [id, parent, order, text], sorted by id. */
function view(bullets) {
  return [...bullets].filter((b) => !b.deleted).map((b) => [b.id, b.parent, b.order, b.text])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Error codes the protocol expects under concurrency; anything else is reported as suspicious. */
const EXPECTED_CODES = new Set(["cycle", "skipped"]);

/** One simulated person: a NotesClient over a real, randomly dropping WebSocket. */
class SimPeer {
  constructor(sim, index, cookie) {
    this.sim = sim;
    this.index = index;
    this.cookie = cookie;
    this.random = mulberry32(sim.seed * 1000 + index);
    this.name = `s${sim.seed}c${index}x${Math.floor(this.random() * 1e9).toString(36)}`;
    this.ws = null;
    this.lastSend = 0;
    this.finished = false;
    this.sentFrames = new Map();
    this.stats = { frames: 0, changes: 0, connects: 0, drops: 0, actions: 0, overtaken: 0, overtakenWhileReady: 0, handshakeTimeouts: 0 };
    let n = 0;
    this.client = new NotesClient({
      clientId: this.name,
      send: (frame) => this.send(frame),
      onChange: (event) => { if (event.type === "error") sim.noteError(this, event); },
      schedule: (fn) => setTimeout(fn, this.int(16)),
      newId: () => `${this.name}-${++n}`,
    });
  }

  int(n) {
    return Math.floor(this.random() * n);
  }

  connect() {
    if (this.finished || this.ws) return;
    const ws = new WebSocket(this.sim.wsURL, { headers: { Cookie: `hg_session=${this.cookie}` } });
    this.ws = ws;
    this.lastSend = 0;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.stats.connects++;
      this.client.connected();
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      const frame = JSON.parse(event.data);
      if (frame.type === "error") this.sim.noteServerError(this, frame, this.sentFrames.get(frame.id));
      if (frame.type === "notesAck") this.sentFrames.delete(frame.id);
      // Live entries can overtake the reply to hello (two writers on the server side).
      if (frame.type === "notes" && frame.changes.length) {
        const last = this.client.lastSeq;
        if (last === null || frame.changes[0].seq > last + 1) {
          this.stats.overtaken++;
          if (this.client.ready) this.stats.overtakenWhileReady++;
          if (this.sim.overtaken.length < 3) {
            this.sim.overtaken.push({ client: this.name, lastApplied: last, arrivedSeq: frame.changes[0].seq, ready: this.client.ready });
          }
        }
      }
      this.client.handle(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === 1009 || event.code === 1007) this.sim.problems.push({ client: this.name, closed: event.code, reason: event.reason });
      this.client.disconnected();
      setTimeout(() => this.connect(), 50 + this.int(400));
    };
    ws.onerror = () => {};
    // Node's WebSocket can stay CONNECTING forever when the server goes away mid-handshake
    // (seen across a server restart: no TCP connection left, no close event): give up and retry.
    setTimeout(() => {
      if (this.ws !== ws || ws.readyState !== 0) return;
      this.stats.handshakeTimeouts++;
      this.ws = null;
      try { ws.close(); } catch { /* never opened */ }
      this.connect();
    }, 5000);
  }

  /** Sends after a random delay, keeping the order of this socket's frames. */
  send(frame) {
    const ws = this.ws;
    if (!ws) return;
    if (frame.type === "notes") {
      this.stats.frames++;
      this.stats.changes += frame.changes.length;
      this.sentFrames.set(frame.id, frame);
    }
    const text = JSON.stringify(frame);
    const at = Math.max(this.lastSend, Date.now() + (this.sim.quiescing ? 0 : this.int(60)));
    this.lastSend = at;
    setTimeout(() => { if (ws.readyState === 1) ws.send(text); }, at - Date.now());
  }

  drop() {
    if (!this.ws) return;
    this.stats.drops++;
    const ws = this.ws;
    this.ws = null;
    try { ws.close(); } catch { /* closing anyway */ }
    this.client.disconnected();
    setTimeout(() => this.connect(), 100 + this.int(900));
  }

  /** One random edit. */
  act() {
    const c = this.client;
    const live = [...c.local.bullets.values()].filter((b) => !b.deleted);
    // Half the picks go to a few "hot" bullets everyone works on, so edits really collide.
    const hot = c.children(MEETING).slice(0, 4);
    const any = () => (hot.length && this.random() < 0.5 ? hot[this.int(hot.length)] : live[this.int(live.length)]);
    const r = this.random();
    this.stats.actions++;
    try {
      if (r < 0.02) return this.drop();
      if (r < 0.16 || live.length < 4) {
        const sections = this.sim.sections;
        const text = `${this.index}:${this.stats.actions}`;
        if (live.length && this.random() < 0.7) c.createBullet({ after: any().id, text });
        else c.createBullet({ parent: sections[this.int(sections.length)], text });
        return;
      }
      const b = any();
      const text = b.text;
      if (r < 0.55) {
        // Typing: a short burst at one place.
        let at = safe(text, this.int(text.length + 1));
        const burst = 1 + this.int(6);
        for (let i = 0; i < burst; i++) {
          const t = c.text(b.id);
          if (t.length > 400) break;
          const ch = ["a", "e", "😀", " ", String(this.index % 10), "é"][this.int(6)];
          c.editText(b.id, new TextOperation().retain(at).insert(ch).retain(t.length - at));
          at += ch.length;
        }
        c.setCaret(b.id, at);
      } else if (r < 0.65) {
        if (text.length < 2) return;
        const at = safe(text, this.int(text.length - 1));
        const end = safe(text, Math.min(text.length, at + 1 + this.int(5)));
        if (end > at) c.editText(b.id, new TextOperation().retain(at).delete(end - at).retain(text.length - end));
      } else if (r < 0.7) c.setText(b.id, text.replace(/a/g, "A").slice(0, 300));
      else if (r < 0.76) c.indent(b.id);
      else if (r < 0.81) c.outdent(b.id);
      else if (r < 0.87) {
        const other = any();
        if (this.random() < 0.5) c.move(b.id, { parent: other.id });
        else c.move(b.id, { after: other.id });
      } else if (r < 0.92) c.remove(b.id);
      else if (r < 0.97) c.undo();
      else c.redo();
    } catch (error) {
      if (!(error instanceof NotesError && error.code === "cycle")) throw error;
    }
  }
}

/** `at`, moved off the middle of a surrogate pair. */
const safe = (text, at) => (at > 0 && at < text.length && /[\uDC00-\uDFFF]/.test(text[at]) ? at - 1 : at);

/** Opens a plain socket, sends `messages`, resolves with the first frame `pick` accepts. */
function ask(sim, cookie, messages, pick, timeout = 15_000) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(sim.wsURL, { headers: { Cookie: `hg_session=${cookie}` } });
    const timer = setTimeout(() => { ws.close(); reject(new Error(`no answer to ${JSON.stringify(messages).slice(0, 200)}`)); }, timeout);
    const seen = [];
    ws.onopen = () => { for (const m of messages) ws.send(JSON.stringify(m)); };
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      seen.push(frame);
      const value = pick(frame, seen);
      if (value !== undefined) { clearTimeout(timer); ws.close(); resolve(value); }
    };
    ws.onerror = () => {};
    ws.onclose = (event) => { clearTimeout(timer); reject(new Error(`socket closed (${event.code}) before an answer`)); };
  });
}

/** Runs the simulation; resolves with the summary (summary.ok false on divergence). */
export async function runSim({ base, cookies, meeting, clients = 20, seconds = 20, seed = 7, topics = 2, log = () => {} }) {
  const wsURL = base.replace(/^http/, "ws").replace(/\/$/, "") + meeting.replace(/\/live$/, "") + "/live";
  const sim = {
    seed, wsURL, sections: [MEETING], quiescing: false, problems: [], errors: {}, suspicious: [], overtaken: [],
    noteError(peer, event) { this.errors[event.code] = (this.errors[event.code] ?? 0) + 1; },
    noteServerError(peer, frame, sent) {
      const key = `server:${frame.code}`;
      this.errors[key] = (this.errors[key] ?? 0) + 1;
      if (!EXPECTED_CODES.has(frame.code) && this.suspicious.length < 20) {
        this.suspicious.push({ client: peer.name, reply: frame, sent: sent ? JSON.stringify(sent).slice(0, 2000) : null });
      }
    },
  };
  const started = Date.now();

  // Topics are sections too: propose a few so bullets also live under them.
  for (let i = 0; i < topics; i++) {
    try {
      await ask(sim, cookies[0], [{ type: "command", id: `t${i}`, command: { type: "propose", tag: "inform", title: `Sim topic ${seed}-${i}` } }],
        (f) => (f.id === `t${i}` && (f.type === "ack" || f.type === "error") ? f : undefined));
    } catch (error) {
      sim.problems.push({ topic: String(error.message) });
    }
  }
  try {
    const board = await ask(sim, cookies[0], [], (f) => (f.type === "board" ? f.board : undefined));
    for (const topic of board.topics ?? []) sim.sections.push(String(topic.id).toLowerCase());
  } catch (error) {
    sim.problems.push({ board: String(error.message) });
  }

  const peers = Array.from({ length: clients }, (_, i) => new SimPeer(sim, i, cookies[i % cookies.length]));
  for (const p of peers) p.connect();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(peers.map(async (p) => {
    await sleep(200 + p.int(300));
    while (Date.now() < deadline) {
      if (p.client.ready) p.act();
      await sleep(20 + p.int(150));
    }
  }));
  log("editing done; quiescing");

  // Quiesce: no more edits or drops; everyone reconnects and sends what is left.
  sim.quiescing = true;
  for (const p of peers) p.connect();
  const settled = () => peers.every((p) => p.ws && p.client.ready && p.client.settled);
  const quiesceDeadline = Date.now() + 30_000;
  while (!settled() && Date.now() < quiesceDeadline) await sleep(50);
  let snapshot = null;
  let settledAll = settled();
  if (settledAll) {
    snapshot = await ask(sim, cookies[0], [{ type: "hello", client: `s${seed}observer`, since: null }],
      (f) => (f.type === "notesSnapshot" ? f : undefined));
    while (Date.now() < quiesceDeadline && !peers.every((p) => p.client.lastSeq === snapshot.seq)) await sleep(50);
  }
  const expected = snapshot ? view(snapshot.bullets) : [];
  const diverged = [];
  for (const p of peers) {
    const mine = view(p.client.local.bullets.values());
    if (!snapshot || JSON.stringify(mine) !== JSON.stringify(expected)) {
      const theirs = new Map(mine.map((r) => [r[0], r]));
      const firstDiff = expected.find((r) => JSON.stringify(theirs.get(r[0])) !== JSON.stringify(r)) ??
        mine.find((r) => !expected.some((e) => e[0] === r[0]));
      diverged.push({ client: p.name, lastSeq: p.client.lastSeq, pending: p.client.pending, ready: p.client.ready,
                      socket: p.ws ? p.ws.readyState : null, inFlight: p.client.inFlight?.id ?? null, online: p.client.online,
                      bullets: mine.length, example: firstDiff ? { expected: expected.find((r) => r[0] === firstDiff[0]) ?? null, actual: theirs.get(firstDiff[0]) ?? null } : null });
    }
  }
  for (const p of peers) {
    p.finished = true;
    const ws = p.ws;
    p.ws = null;
    ws?.close();
  }

  const total = (key) => peers.reduce((n, p) => n + p.stats[key], 0);
  const summary = {
    ok: settledAll && !!snapshot && diverged.length === 0 && sim.problems.filter((p) => p.closed).length === 0,
    clients, seconds, seed,
    elapsedMs: Date.now() - started,
    sections: sim.sections.length,
    seq: snapshot?.seq ?? null,
    bullets: expected.length,
    deletedBullets: snapshot ? snapshot.bullets.filter((b) => b.deleted).length : null,
    characters: expected.reduce((n, r) => n + r[3].length, 0),
    actions: total("actions"), frames: total("frames"), changesSent: total("changes"),
    connects: total("connects"), drops: total("drops"), handshakeTimeouts: total("handshakeTimeouts"),
    /** Notes frames that arrived ahead of a gap (before the snapshot or catch-up they follow). */
    overtaken: total("overtaken"),
    /** Of those, how many came while no hello was being answered (should be 0). */
    overtakenWhileReady: total("overtakenWhileReady"),
    overtakenExamples: sim.overtaken,
    errors: sim.errors,
    settled: settledAll,
    diverged,
    suspicious: sim.suspicious,
    problems: sim.problems,
  };
  return summary;
}

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[i + 1];
    switch (key) {
      case "--base": options.base = value; i++; break;
      case "--cookie": case "--cookies": options.cookies = value.split(",").filter(Boolean); i++; break;
      case "--meeting": options.meeting = value; i++; break;
      case "--clients": options.clients = Number(value); i++; break;
      case "--seconds": options.seconds = Number(value); i++; break;
      case "--seed": options.seed = Number(value); i++; break;
      case "--topics": options.topics = Number(value); i++; break;
      default: throw new Error(`unknown argument ${key}`);
    }
  }
  if (!options.base || !options.cookies?.length || !options.meeting) throw new Error("--base, --cookie and --meeting are required");
  return options;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
    if (typeof WebSocket !== "function") throw new Error("no WebSocket: run node with --experimental-websocket");
  } catch (error) {
    console.error(String(error.message));
    process.exit(2);
  }
  const summary = await runSim({ ...options, log: (m) => console.error(m) });
  console.log(JSON.stringify(summary, null, 2));
  process.exit(summary.ok ? 0 : 1);
}
