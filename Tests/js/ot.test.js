// TextOperation tests in the shape of ot.js's test-text-operation.js: unit tests of the
// builders, hundreds of seeded random cases for apply, invert, compose and transform, the
// shared vectors in Tests/fixtures/ot-vectors.json, and rejection of bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { TextOperation, isWellFormed } from "../../Public/ot.js";
import { formatVectors, makeVectors, mulberry32, randomTools, VECTORS_PATH } from "../fixtures/make-vectors.mjs";

const N = 500;
const vectorsText = readFileSync(VECTORS_PATH, "utf8");
const vectors = JSON.parse(vectorsText);
const op = (json) => TextOperation.fromJSON(json);

/** Runs `body` n times with seeded random tools (a fixed seed per test, so failures repeat). */
function randomTest(seed, n, body) {
  const t = randomTools(mulberry32(seed));
  for (let i = 0; i < n; i++) body(t, i);
}

test("lengths", () => {
  const o = new TextOperation();
  assert.equal(o.baseLength, 0);
  assert.equal(o.targetLength, 0);
  o.retain(5);
  assert.deepEqual([o.baseLength, o.targetLength], [5, 5]);
  o.insert("abc");
  assert.deepEqual([o.baseLength, o.targetLength], [5, 8]);
  o.retain(2);
  assert.deepEqual([o.baseLength, o.targetLength], [7, 10]);
  o.delete(2);
  assert.deepEqual([o.baseLength, o.targetLength], [9, 10]);
  assert.equal(new TextOperation().insert("😀").targetLength, 2, "UTF-16 code units");
});

test("chaining and empty components", () => {
  const o = new TextOperation().retain(5).retain(0).insert("lorem").insert("").delete("abc").delete(3).delete(0).delete("");
  assert.equal(o.ops.length, 3);
  const e = new TextOperation().retain(0).insert("").delete("");
  assert.equal(e.ops.length, 0);
});

test("equals", () => {
  const op1 = new TextOperation().delete(1).insert("lo").retain(2).retain(3);
  const op2 = new TextOperation().delete(-1).insert("l").insert("o").retain(5);
  assert.ok(op1.equals(op2));
  op1.delete(1);
  op2.retain(1);
  assert.ok(!op1.equals(op2));
});

test("merges adjacent components and puts an insert before a delete", () => {
  const o = new TextOperation();
  o.retain(2).retain(3);
  assert.deepEqual(o.ops, [5]);
  o.insert("abc").insert("xyz");
  assert.deepEqual(o.ops, [5, "abcxyz"]);
  o.delete("d").delete("d");
  assert.deepEqual(o.ops, [5, "abcxyz", -2]);
  o.insert("!");
  assert.deepEqual(o.ops, [5, "abcxyz!", -2]);
  assert.deepEqual(new TextOperation().delete(2).insert("x").ops, ["x", -2]);
});

test("isNoop", () => {
  const o = new TextOperation();
  assert.ok(o.isNoop());
  o.retain(5).retain(3);
  assert.ok(o.isNoop());
  o.insert("lorem");
  assert.ok(!o.isNoop());
});

test("toString", () => {
  const o = new TextOperation().retain(2).insert("lorem").delete("ipsum").retain(5);
  assert.equal(o.toString(), "retain 2, insert 'lorem', delete 5, retain 5");
});

test("fromJSON normalises and validates", () => {
  const o = op([2, -1, -1, "cde"]);
  assert.deepEqual(o.ops, [2, "cde", -2]);
  assert.equal(o.baseLength, 4);
  assert.equal(o.targetLength, 5);
  const bad = [{ insert: "x" }, null, undefined, 0, -0, 1.5, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 1e40,
    "", "\ud83d", "x\ude00", true, [1], 3n];
  for (const component of bad) {
    assert.throws(() => op([2, -1, "cde", component]), Error, `rejects ${String(component)}`);
  }
  for (const notArray of [null, undefined, "abc", 3, { 0: 1, length: 1 }]) {
    assert.throws(() => op(notArray), /array/);
  }
  assert.deepEqual(op([2 ** 31 - 1]).ops, [2147483647]);
});

test("builders reject bad arguments", () => {
  const o = new TextOperation();
  assert.throws(() => o.retain(-1), /non-negative/);
  assert.throws(() => o.retain(1.5), /integer/);
  assert.throws(() => o.retain("3"), /integer/);
  assert.throws(() => o.retain(2 ** 31), /integer/);
  assert.throws(() => o.insert(3), /string/);
  assert.throws(() => o.insert("a\ud83d"), /lone surrogate/);
  assert.throws(() => o.insert("\ude00"), /lone surrogate/);
  assert.throws(() => o.delete(NaN), /integer/);
  assert.throws(() => o.delete({}), /integer/);
  assert.deepEqual(o.ops, []);
});

test("isWellFormed", () => {
  for (const s of ["", "abc", "😀", "👍🏽", "a😀b"]) assert.ok(isWellFormed(s), s);
  for (const s of ["\ud83d", "\ude00", "a\ud83db", "\ude00\ud83d", "😀\ud83d"]) assert.ok(!isWellFormed(s), JSON.stringify(s));
});

test("apply checks the document", () => {
  assert.throws(() => op([2]).apply("abc"), /base length/);
  assert.throws(() => op([1]).apply("😀"), /base length/);
  assert.throws(() => op([1, -1]).apply("😀"), /splits a surrogate pair/);
  assert.throws(() => op([1, "x", 1]).apply("😀"), /splits a surrogate pair/);
  assert.throws(() => op([3, -1]).apply("👍🏽"), /splits a surrogate pair/);
  assert.throws(() => op([1, -1]).invert("😀"), /splits a surrogate pair/);
  assert.throws(() => op([4]).invert("abc"), /base length/);
  assert.throws(() => op([1]).apply(5), /string/);
  // Between two whole pairs is fine, as is a normalised op that no longer splits anything.
  assert.equal(op([2, "x", 2]).apply("👍🏽"), "👍x🏽");
  assert.equal(op([1, -1, "x", -1]).apply("a😀"), "ax");
});

test("compose and transform check lengths", () => {
  assert.throws(() => op([3]).compose(op([4])), /target length/);
  assert.throws(() => op([3]).compose([3]), /TextOperation/);
  assert.throws(() => TextOperation.transform(op([3]), op([4])), /same base length/);
  assert.throws(() => TextOperation.transform(op([3]), [3]), /TextOperation/);
  // An op splitting an inserted pair cannot be composed into well-formed text.
  assert.throws(() => op(["😀"]).compose(op([1, "x", 1])), /lone surrogate/);
});

test("transform puts a's insert first when both insert at the same place", () => {
  const [aPrime, bPrime] = TextOperation.transform(op([1, "X", 1]), op([1, "Y", 1]));
  assert.deepEqual(aPrime.toJSON(), [1, "X", 2]);
  assert.deepEqual(bPrime.toJSON(), [2, "Y", 1]);
  assert.equal(bPrime.apply(op([1, "X", 1]).apply("ab")), "aXYb");
  assert.equal(aPrime.apply(op([1, "Y", 1]).apply("ab")), "aXYb");
});

test("random apply", () => randomTest(1, N, (t) => {
  const str = t.string(50);
  const o = t.operation(str);
  assert.equal(o.baseLength, str.length);
  const result = o.apply(str);
  assert.equal(result.length, o.targetLength);
  assert.ok(isWellFormed(result));
}));

test("random invert: the inverse undoes the operation", () => randomTest(2, N, (t) => {
  const str = t.string(50);
  const o = t.operation(str);
  const p = o.invert(str);
  assert.equal(p.baseLength, o.targetLength);
  assert.equal(p.targetLength, o.baseLength);
  assert.equal(p.apply(o.apply(str)), str);
}));

test("random JSON round trip", () => randomTest(3, N, (t) => {
  const o = t.operation(t.string(50));
  assert.ok(o.equals(op(o.toJSON())));
  assert.ok(o.equals(op(JSON.parse(JSON.stringify(o)))));
}));

test("random compose: apply(s, compose(a, b)) === apply(apply(s, a), b)", () => randomTest(4, N, (t) => {
  const str = t.string(20);
  const a = t.operation(str);
  const afterA = a.apply(str);
  assert.equal(afterA.length, a.targetLength);
  const b = t.operation(afterA);
  const afterB = b.apply(afterA);
  const ab = a.compose(b);
  assert.equal(ab.baseLength, a.baseLength);
  assert.equal(ab.targetLength, b.targetLength);
  assert.equal(ab.apply(str), afterB);
}));

test("random transform: both orders converge", () => randomTest(5, N, (t) => {
  const str = t.string(20);
  const a = t.operation(str);
  const b = t.operation(str);
  const [aPrime, bPrime] = TextOperation.transform(a, b);
  const abPrime = a.compose(bPrime);
  const baPrime = b.compose(aPrime);
  assert.ok(abPrime.equals(baPrime));
  assert.equal(bPrime.apply(a.apply(str)), aPrime.apply(b.apply(str)));
  assert.equal(abPrime.apply(str), baPrime.apply(str));
}));

test("shouldBeComposedWith", () => {
  const make = () => new TextOperation();
  let a = make().retain(3);
  let b = make().retain(1).insert("tag").retain(2);
  assert.ok(a.shouldBeComposedWith(b));
  assert.ok(b.shouldBeComposedWith(a));

  a = make().retain(1).insert("a").retain(2);
  b = make().retain(2).insert("b").retain(2);
  assert.ok(a.shouldBeComposedWith(b));
  a.delete(3);
  assert.ok(!a.shouldBeComposedWith(b));

  a = make().retain(1).insert("b").retain(2);
  b = make().retain(1).insert("a").retain(3);
  assert.ok(!a.shouldBeComposedWith(b));

  a = make().retain(4).delete(3).retain(10);
  b = make().retain(2).delete(2).retain(10);
  assert.ok(a.shouldBeComposedWith(b));
  b = make().retain(4).delete(7).retain(3);
  assert.ok(a.shouldBeComposedWith(b));
  b = make().retain(2).delete(9).retain(3);
  assert.ok(!a.shouldBeComposedWith(b));
});

test("random shouldBeComposedWithInverted mirrors shouldBeComposedWith", () => randomTest(6, 2 * N, (t) => {
  const str = t.string(20);
  const a = t.operation(str);
  const aInv = a.invert(str);
  const afterA = a.apply(str);
  const b = t.operation(afterA);
  const bInv = b.invert(afterA);
  assert.equal(a.shouldBeComposedWith(b), bInv.shouldBeComposedWithInverted(aInv));
}));

test("vectors: apply", () => {
  assert.ok(vectors.apply.length >= 300);
  for (const c of vectors.apply) assert.equal(op(c.op).apply(c.doc), c.result, JSON.stringify(c));
});

test("vectors: invert", () => {
  assert.ok(vectors.invert.length >= 300);
  for (const c of vectors.invert) {
    const o = op(c.op);
    assert.deepEqual(o.invert(c.doc).toJSON(), c.inverse, JSON.stringify(c));
    assert.equal(op(c.inverse).apply(o.apply(c.doc)), c.doc);
  }
});

test("vectors: compose", () => {
  assert.ok(vectors.compose.length >= 300);
  for (const c of vectors.compose) {
    const composed = op(c.a).compose(op(c.b));
    assert.deepEqual(composed.toJSON(), c.composed, JSON.stringify(c));
    assert.equal(composed.apply(c.doc), c.result);
    assert.equal(op(c.b).apply(op(c.a).apply(c.doc)), c.result);
  }
});

test("vectors: transform", () => {
  assert.ok(vectors.transform.length >= 300);
  for (const c of vectors.transform) {
    const a = op(c.a), b = op(c.b);
    const [aPrime, bPrime] = TextOperation.transform(a, b);
    assert.deepEqual(aPrime.toJSON(), c.aPrime, JSON.stringify(c));
    assert.deepEqual(bPrime.toJSON(), c.bPrime, JSON.stringify(c));
    assert.equal(bPrime.apply(a.apply(c.doc)), c.result);
    assert.equal(aPrime.apply(b.apply(c.doc)), c.result);
  }
});

test("vectors: normalize", () => {
  for (const c of vectors.normalize) {
    const o = op(c.op);
    assert.deepEqual(o.toJSON(), c.canonical, JSON.stringify(c));
    assert.equal(o.baseLength, c.baseLength);
    assert.equal(o.targetLength, c.targetLength);
  }
});

test("vectors: invalid operations are rejected", () => {
  assert.ok(vectors.invalid.length >= 30);
  for (const c of vectors.invalid) {
    assert.equal(c.error, true);
    assert.throws(() => op(JSON.parse(c.opsJSON)).apply(c.doc), Error, c.note);
  }
});

test("vectors file is what the generator writes", () => {
  assert.equal(vectorsText, formatVectors(makeVectors()), "run: node Tests/fixtures/make-vectors.mjs");
});
