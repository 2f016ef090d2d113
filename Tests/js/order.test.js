// Order-key tests: between() properties, long runs of inserts in the usual patterns, the
// shared vectors in Tests/fixtures/ot-vectors.json, and rejection of bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { between, DIGITS, isValidKey, spread } from "../../Public/order.js";
import { mulberry32, randomTools, VECTORS_PATH } from "../fixtures/make-vectors.mjs";

const vectors = JSON.parse(readFileSync(VECTORS_PATH, "utf8"));

/** Asserts every key is valid and the list is strictly increasing. */
function assertOrdered(keys) {
  keys.forEach((k, i) => {
    assert.ok(isValidKey(k), `invalid key ${k}`);
    if (i > 0) assert.ok(keys[i - 1] < k, `${keys[i - 1]} !< ${k}`);
  });
}

/** Inserts a new key at index `at` of `keys` (sorted) and returns it. */
function insertAt(keys, at) {
  const k = between(at > 0 ? keys[at - 1] : null, at < keys.length ? keys[at] : null);
  keys.splice(at, 0, k);
  return k;
}

test("isValidKey", () => {
  for (const k of ["1", "V", "z", "01", "a0b", "Zz9", "z".repeat(64), "0".repeat(63) + "1"]) assert.ok(isValidKey(k), k);
  for (const k of ["", "0", "10", "V00", "a-b", "é", " V", "V\n", "z".repeat(65), null, undefined, 5, ["V"]]) {
    assert.ok(!isValidKey(k), JSON.stringify(k));
  }
  assert.equal(DIGITS.length, 62);
  assert.equal([...DIGITS].sort().join(""), DIGITS, "digits are in ASCII order");
});

test("between: documented examples", () => {
  assert.equal(between(null, null), "V");
  assert.equal(between("V", null), "W");
  assert.equal(between(null, "V"), "U");
  assert.equal(between("z", null), "zV");
  assert.equal(between(null, "1"), "0z");
  assert.equal(between("V", "W"), "VV");
  assert.equal(between("V", "X"), "W");
  assert.equal(between("V", "V1"), "V0z");
  assert.equal(between("a", "a01"), "a00z");
  assert.equal(between("Vz", "W"), "VzV");
});

test("between: random pairs give a valid key strictly between", () => {
  const t = randomTools(mulberry32(7));
  for (let i = 0; i < 2000; i++) {
    let a = t.int(5) ? t.key(t.int(3) ? 6 : 30) : null;
    let b = t.int(5) ? t.key(t.int(3) ? 6 : 30) : null;
    if (t.int(4) === 0 && a !== null) b = a + t.key(3); // a is a prefix of b
    if (a !== null && b !== null) {
      if (a === b) continue;
      if (a > b) [a, b] = [b, a];
    }
    const k = between(a, b);
    assert.ok(isValidKey(k), `${a} ${b} -> ${k}`);
    if (a !== null) assert.ok(a < k, `${a} < ${k}`);
    if (b !== null) assert.ok(k < b, `${k} < ${b}`);
    assert.equal(between(a, b), k, "deterministic");
  }
});

test("1000 appends at the end stay valid and ordered", () => {
  const keys = [];
  for (let i = 0; i < 1000; i++) insertAt(keys, keys.length);
  assertOrdered(keys);
});

test("1000 inserts at the start stay valid and ordered", () => {
  const keys = [];
  for (let i = 0; i < 1000; i++) insertAt(keys, 0);
  assertOrdered(keys);
});

test("1000 bullets typed one after another in the middle stay valid and ordered", () => {
  const keys = ["V", "W"];
  for (let i = 0; i < 1000; i++) insertAt(keys, keys.length - 1); // after the last typed, before "W"
  assertOrdered(keys);
});

test("1000 inserts right after the same sibling stay valid and ordered", () => {
  const keys = ["V", "W"];
  for (let i = 0; i < 1000; i++) insertAt(keys, 1); // after "V", before the previous insert
  assertOrdered(keys);
});

test("1000 inserts at random places stay valid and ordered", () => {
  const t = randomTools(mulberry32(8));
  const keys = [];
  for (let i = 0; i < 1000; i++) insertAt(keys, t.int(keys.length + 1));
  assertOrdered(keys);
  assert.equal(new Set(keys).size, 1000);
});

test("when a gap is exhausted between throws instead of returning a bad key", () => {
  const keys = ["V", "W"];
  let error;
  for (let i = 0; i < 1000 && !error; i++) {
    try { insertAt(keys, Math.floor(keys.length / 2)); } catch (e) { error = e; }
  }
  assert.match(error?.message ?? "", /no room/);
  assertOrdered(keys);
});

test("between rejects bad input", () => {
  assert.throws(() => between("V", "V"), /out of order/);
  assert.throws(() => between("W", "V"), /out of order/);
  assert.throws(() => between("V0", null), /invalid order key/);
  assert.throws(() => between(null, ""), /invalid order key/);
  assert.throws(() => between(undefined, null), /invalid order key/);
  assert.throws(() => between("z".repeat(64), null), /no room/);
});

test("spread gives fresh, evenly spaced keys", () => {
  for (const n of [0, 1, 2, 61, 62, 1000, 5000]) {
    const keys = spread(n);
    assert.equal(keys.length, n);
    assertOrdered(keys);
  }
  assert.deepEqual(spread(1), ["V"]);
  assert.ok(spread(1000).every((k) => k.length <= 2));
  assert.throws(() => spread(-1));
});

test("vectors: between", () => {
  assert.ok(vectors.between.length >= 200);
  for (const c of vectors.between) assert.equal(between(c.a, c.b), c.key, JSON.stringify(c));
});

test("vectors: between rejects invalid input", () => {
  for (const c of vectors.betweenInvalid) assert.throws(() => between(c.a, c.b), Error, c.note);
});
