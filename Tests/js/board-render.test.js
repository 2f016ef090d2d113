import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeHTML, formatRemaining, renderBoard } from "../../Public/board-render.js";
import { LiveConnection, backoff } from "../../Public/live.js";

const settings = { timeBoxMinutes: 10, extensionSteps: [5, 5], votesPerParticipant: 3, maxVotesPerTopic: 3, tags: ["quest"], revoteSeconds: 60 };
const topic = (over) => ({ id: "AAAA-1", tag: "quest", title: "Event bus", description: "", proposerName: "Ann", status: "queued", votes: 0, voteHistory: [], extensionsUsed: 0, carriedOver: false, ...over });
const frame = (board, me) => ({
  type: "board", serverNow: 0,
  board: { seq: 1, meeting: { id: "M", date: "2022-12-14", status: "live" }, settings, topics: [], clock: null, present: [], ...board },
  me: { signedIn: true, canParticipate: true, canFacilitate: false, votesLeft: 3, votes: {}, ...me },
});

test("escapes everything people type", () => {
  assert.equal(escapeHTML(`<img src=x onerror="a('b')">&`), "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
  const html = renderBoard(frame({ topics: [topic({ title: "<script>alert(1)</script>", proposerName: "<b>", tag: "\"q" })], present: [{ name: "<i>x</i>" }] }), { commands: "/c", now: 0 });
  assert.ok(!html.includes("<script>"));
  assert.ok(!html.includes("<b>"));
  assert.ok(!html.includes("<i>x"));
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
});

test("formats remaining time, rounding up and never negative", () => {
  assert.equal(formatRemaining(600_000), "10:00");
  assert.equal(formatRemaining(59_001), "1:00");
  assert.equal(formatRemaining(1), "0:01");
  assert.equal(formatRemaining(-5000), "0:00");
});

test("agenda shows votes, my votes and vote buttons for participants", () => {
  const html = renderBoard(frame({ topics: [topic({ votes: 4 })] }, { votes: { "AAAA-1": 2 }, votesLeft: 1 }), { commands: "/c", now: 0 });
  assert.match(html, /<span class="votes" aria-label="4 votes">4<\/span>/);
  assert.match(html, /yours: 2/);
  assert.match(html, /aria-label="Vote for Event bus"/);
  assert.match(html, /aria-label="Take back a vote from Event bus"/);
  assert.match(html, /You have 1 of 3 votes left/);
  assert.match(html, /id="topic-aaaa-1"/);
});

test("readers without the right to take part get no buttons", () => {
  const html = renderBoard(frame({ topics: [topic()] }, { signedIn: false, canParticipate: false, votesLeft: 0 }), { commands: "/c", now: 0 });
  assert.ok(!html.includes("Vote for"));
  assert.match(html, /Sign in to propose and vote/);
});

test("the clock counts down to the deadline and offers thumbs in a re-vote", () => {
  const clock = { topicId: "AAAA-1", phase: "revote", deadline: 30_000, tally: { up: 2, sideways: 1, down: 0 }, voters: 3, nextExtensionMinutes: 5 };
  const html = renderBoard(frame({ topics: [topic({ status: "discussing" })], clock }, { canFacilitate: true, thumb: "up" }), { commands: "/c", now: 0 });
  assert.match(html, /<time class="countdown"[^>]*>0:30<\/time>/);
  assert.match(html, /👍 2 · 👉 1 · 👎 0/);
  assert.match(html, /class="chosen" aria-label="Re-vote up"/);
  assert.match(html, /Count the re-vote now/);
  assert.ok(!html.includes("Start next topic"));
});

test("facilitators get meeting controls; discussed and carried topics are listed apart", () => {
  const topics = [topic({ id: "A" }), topic({ id: "B", status: "done", discussedSeconds: 900, extensionsUsed: 1, timeBoxMinutes: 10 }), topic({ id: "C", status: "carriedOver", voteHistory: [{ meetingDate: "2022-12-07", votes: 2 }] })];
  const html = renderBoard(frame({ topics, meeting: { id: "M", date: "2022-12-14", status: "upcoming" } }, { canFacilitate: true }), { commands: "/c", now: 0 });
  assert.match(html, /Start meeting/);
  assert.match(html, /Start next topic/);
  assert.match(html, /Skip meeting/);
  assert.match(html, /discussed 15 min \(10 \+ 1 extension\)/);
  assert.match(html, /Carried over to the next meeting/);
  assert.match(html, /2 votes on 2022-12-07/);
});

class FakeSocket {
  static all = [];
  constructor(url) { this.url = url; this.sent = []; this.readyState = 0; FakeSocket.all.push(this); }
  send(data) { this.sent.push(JSON.parse(data)); }
  open() { this.readyState = 1; this.onopen?.(); }
  message(obj) { this.onmessage?.({ data: typeof obj === "string" ? obj : JSON.stringify(obj) }); }
  drop() { this.readyState = 3; this.onclose?.(); }
  close() { this.drop(); }
}

test("live connection matches replies to commands and reconnects after a drop", async () => {
  FakeSocket.all = [];
  const states = [];
  const boards = [];
  const timers = [];
  const live = new LiveConnection("ws://x/live", { WebSocket: FakeSocket, onBoard: (f) => boards.push(f), onState: (s) => states.push(s), setTimeout: (fn, ms) => timers.push({ fn, ms }) });
  live.connect();
  const socket = FakeSocket.all[0];
  socket.open();
  socket.message(frame({ seq: 3 }));
  socket.message("garbage");
  socket.message(frame({ seq: 2 })); // an older frame is ignored
  assert.equal(boards.length, 1);
  const ok = live.send({ type: "vote", topicId: "A" });
  const bad = live.send({ type: "vote", topicId: "B" });
  assert.deepEqual(socket.sent.map((m) => m.id), ["c1", "c2"]);
  socket.message({ type: "error", id: "c2", code: "conflict", message: "You have used all 3 of your votes" });
  socket.message({ type: "ack", id: "c1", seq: 4 });
  assert.equal((await ok).seq, 4);
  await assert.rejects(bad, /used all 3/);
  const lost = live.send({ type: "vote", topicId: "A" });
  socket.drop();
  await assert.rejects(lost, /dropped/);
  assert.deepEqual(states, ["connecting", "live", "offline"]);
  assert.equal(timers.length, 1);
  timers[0].fn();
  assert.equal(FakeSocket.all.length, 2);
  assert.equal(states.at(-1), "reconnecting");
});

test("live connection passes other frames to onFrame, sends any frame and reports open and close", () => {
  FakeSocket.all = [];
  const events = [];
  const errors = [];
  const live = new LiveConnection("ws://x/live", {
    WebSocket: FakeSocket,
    onBoard: () => events.push("board"),
    onState: (s) => events.push(s),
    onError: (m) => errors.push(m),
    onOpen: () => events.push("open"),
    onClose: () => events.push("close"),
    onFrame: (f) => { events.push(f.type); return f.type !== "error" || f.id === "n1"; },
    setTimeout: () => {},
  });
  assert.equal(live.sendFrame({ type: "hello" }), false); // not connected yet: nothing sent
  live.connect();
  const socket = FakeSocket.all[0];
  assert.equal(live.sendFrame({ type: "hello" }), false);
  socket.open();
  assert.equal(live.sendFrame({ type: "hello", client: "k", since: null }), true);
  assert.deepEqual(socket.sent, [{ type: "hello", client: "k", since: null }]);
  socket.message({ type: "notesSnapshot", seq: 0, clientSeq: 0, bullets: [] });
  socket.message({ type: "error", id: "n1", code: "invalid", message: "for the notes" });
  socket.message({ type: "error", id: null, code: "malformed", message: "shown on the page" });
  const command = live.send({ type: "vote", topicId: "A" });
  socket.message({ type: "ack", id: "c1", seq: 1 }); // a command's reply never reaches onFrame
  socket.drop();
  assert.deepEqual(events, ["connecting", "live", "open", "notesSnapshot", "error", "error", "close", "offline"]);
  assert.deepEqual(errors, ["shown on the page"]);
  return command;
});

test("backoff grows and is capped", () => {
  assert.equal(backoff(0, () => 0.5), 500);
  assert.equal(backoff(3, () => 0.5), 4000);
  assert.equal(backoff(20, () => 0.5), 10000);
});
