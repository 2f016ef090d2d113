// The pure helpers of the notes outliner (Public/notes.js): caret-aware diffs, caret placement
// after undo, links, colours, reading order and pasted lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TextOperation } from "../../Public/ot.js";
import { NotesClient } from "../../Public/notes-client.js";
import { caretDiff, opCaret, linkify, caretColor, documentOrder, sectionOf, pastedLines, pendingText, randomId } from "../../Public/notes.js";

test("caretDiff puts an ambiguous edit where the caret is", () => {
  // Typing "a" before "ab": the caret (1) says it went in at 0, not at 1.
  assert.deepEqual(caretDiff("ab", "aab", 1).toJSON(), ["a", 2]);
  assert.deepEqual(caretDiff("ab", "aab", 2).toJSON(), [1, "a", 1]);
  // Backspace of the first of two equal letters.
  assert.deepEqual(caretDiff("aab", "ab", 0).toJSON(), [-1, 2]);
  assert.deepEqual(caretDiff("aab", "ab", 1).toJSON(), [1, -1, 1]);
  // Replacing a selection.
  assert.deepEqual(caretDiff("hello", "hao", 2).toJSON(), [1, "a", -3, 1]);
  // Without a caret it is the plain diff.
  assert.deepEqual(caretDiff("hello world", "hello brave world").toJSON(), [6, "brave ", 5]);
  // Never splits a surrogate pair (😀 = D83D DE00, 😁 = D83D DE01).
  assert.deepEqual(caretDiff("a😀b", "a😁b", 3).toJSON(), [1, "😁", -2, 1]);
});

test("caretDiff always produces an op from a to b, whatever the caret", () => {
  const alphabet = ["a", "b", "😀", "😁", " "];
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const word = () => Array.from({ length: Math.floor(rnd() * 7) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join("");
  for (let i = 0; i < 3000; i++) {
    const a = word(), b = word();
    const caret = Math.floor(rnd() * (b.length + 2)) - 1;
    const op = caretDiff(a, b, caret);
    assert.equal(op.apply(a), b, `${a} → ${b} at ${caret}`);
  }
});

test("opCaret is right after the last insert, or where the last delete was", () => {
  assert.equal(opCaret(TextOperation.fromJSON([3, "xy", 2])), 5);
  assert.equal(opCaret(TextOperation.fromJSON([3, -2, 2])), 3);
  assert.equal(opCaret(TextOperation.fromJSON(["a", 4, "b"])), 6);
  assert.equal(opCaret(TextOperation.fromJSON([4])), 4);
});

test("linkify finds http(s) links like the server and leaves the rest as text", () => {
  assert.deepEqual(linkify("see https://example.com/a?b=1, then http://x.org)."), [
    { text: "see ", start: 0 },
    { text: "https://example.com/a?b=1", start: 4, href: "https://example.com/a?b=1" },
    { text: ", then ", start: 29 },
    { text: "http://x.org", start: 36, href: "http://x.org" },
    { text: ").", start: 48 },
  ]);
  assert.deepEqual(linkify("no links"), [{ text: "no links", start: 0 }]);
  assert.deepEqual(linkify(""), []);
  assert.deepEqual(linkify("javascript:alert(1) https://"), [{ text: "javascript:alert(1) https://", start: 0 }]);
});

test("caret colours are stable per client and differ between clients", () => {
  assert.equal(caretColor("abc"), caretColor("abc"));
  assert.notEqual(caretColor("abc"), caretColor("abd"));
  assert.match(caretColor("k3n9"), /^hsl\(\d+ 70% 38%\)$/);
});

test("reading order and sections follow the outline", () => {
  const sent = [];
  let n = 0;
  const client = new NotesClient({ clientId: "me", send: (f) => sent.push(f), schedule: () => {}, newId: () => `b${++n}` });
  client.handle({ type: "notesSnapshot", seq: 0, clientSeq: 0, bullets: [] });
  const a = client.createBullet({ parent: "meeting", text: "a" });
  const b = client.createBullet({ after: a, text: "b" });
  const c = client.createBullet({ parent: "t1", text: "c" });
  client.indent(b);
  const d = client.createBullet({ after: a, text: "d" });
  assert.deepEqual(documentOrder(client, ["meeting", "t1"]), [a, b, d, c]);
  assert.deepEqual(documentOrder(client, ["t1", "meeting"]), [c, a, b, d]);
  assert.equal(sectionOf(client, b), "meeting");
  assert.equal(sectionOf(client, c), "t1");
  assert.equal(sectionOf(client, "nope"), null);
});

test("pasted lines drop bullet markers and blank lines", () => {
  assert.deepEqual(pastedLines("- one\r\n  * two\n\n• three  \n+ four\n"), ["one", "two", "three", "four"]);
  assert.deepEqual(pastedLines("plain\nlines"), ["plain", "lines"]);
});

test("pending text and random ids", () => {
  assert.equal(pendingText(0), "");
  assert.equal(pendingText(1), "1 unsaved change");
  assert.equal(pendingText(4), "4 unsaved changes");
  const ids = new Set(Array.from({ length: 200 }, () => randomId(20)));
  assert.equal(ids.size, 200);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{20}$/);
});
