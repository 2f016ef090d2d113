// Operational transformation for the text of one bullet: a port of ot.js's TextOperation
// (lib/text-operation.js, MIT), with the same normalisation, compose and transform rules,
// so the Swift TextOperation and this one agree op for op (Tests/fixtures/ot-vectors.json).
//
// An operation is a list of components that an imaginary cursor runs through the document:
//   retain: positive integer n  — keep the next n characters
//   insert: non-empty string     — insert it at the cursor
//   delete: negative integer -n  — remove the next n characters
// Lengths and offsets are UTF-16 code units (JS string length), as in ot.js.
//
// Differences from ot.js: every input is validated and bad input throws an Error (never a
// garbled document): component magnitudes are integers below 2^31, inserted text must be
// well-formed UTF-16, and `apply` / `invert` refuse an operation whose component boundaries
// fall inside a surrogate pair of the document.

/** Largest retain/delete magnitude accepted (2^31 - 1). */
export const MAX_COMPONENT = 2147483647;

const isRetain = (op) => typeof op === "number" && op > 0;
const isInsert = (op) => typeof op === "string";
const isDelete = (op) => typeof op === "number" && op < 0;

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/** True when `str` has no lone surrogate (same as String.prototype.isWellFormed). */
export function isWellFormed(str) {
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (isHigh(c)) {
      if (i + 1 < str.length && isLow(str.charCodeAt(i + 1))) i++;
      else return false;
    } else if (isLow(c)) {
      return false;
    }
  }
  return true;
}

/** True when offset `i` of `str` falls between a high surrogate and its low surrogate. */
function splitsPair(str, i) {
  return i > 0 && i < str.length && isHigh(str.charCodeAt(i - 1)) && isLow(str.charCodeAt(i));
}

function checkCount(n, what) {
  if (!Number.isInteger(n) || Math.abs(n) > MAX_COMPONENT) {
    throw new Error(`${what} expects an integer of magnitude at most ${MAX_COMPONENT}, got ${String(n)}`);
  }
}

export class TextOperation {
  constructor() {
    /** Components: positive int (retain), string (insert), negative int (delete). */
    this.ops = [];
    /** Length of every document this operation applies to. */
    this.baseLength = 0;
    /** Length of the document it produces. */
    this.targetLength = 0;
  }

  static isRetain = isRetain;
  static isInsert = isInsert;
  static isDelete = isDelete;

  /** Keeps the next `n` characters; merges with a preceding retain. */
  retain(n) {
    checkCount(n, "retain");
    if (n < 0) throw new Error(`retain expects a non-negative count, got ${n}`);
    if (n === 0) return this;
    this.baseLength += n;
    this.targetLength += n;
    if (isRetain(this.ops[this.ops.length - 1])) this.ops[this.ops.length - 1] += n;
    else this.ops.push(n);
    return this;
  }

  /** Inserts `str` at the cursor; merges with a preceding insert and goes before a preceding delete. */
  insert(str) {
    if (typeof str !== "string") throw new Error("insert expects a string");
    if (!isWellFormed(str)) throw new Error("insert expects well-formed UTF-16 text (it has a lone surrogate)");
    if (str === "") return this;
    this.targetLength += str.length;
    const ops = this.ops;
    const last = ops.length - 1;
    if (isInsert(ops[last])) {
      ops[last] += str;
    } else if (isDelete(ops[last])) {
      // delete+insert and insert+delete have the same effect: keep the insert first, so equal
      // effects have equal ops.
      if (isInsert(ops[last - 1])) ops[last - 1] += str;
      else { ops.push(ops[last]); ops[last] = str; }
    } else {
      ops.push(str);
    }
    return this;
  }

  /** Deletes the next `n` characters (`n` may be negative, or a string whose length is used). */
  delete(n) {
    if (typeof n === "string") n = n.length;
    checkCount(n, "delete");
    if (n === 0) return this;
    if (n > 0) n = -n;
    this.baseLength -= n;
    if (isDelete(this.ops[this.ops.length - 1])) this.ops[this.ops.length - 1] += n;
    else this.ops.push(n);
    return this;
  }

  /** True when applying this operation changes nothing. */
  isNoop() {
    return this.ops.length === 0 || (this.ops.length === 1 && isRetain(this.ops[0]));
  }

  /** Same components and lengths. */
  equals(other) {
    if (this.baseLength !== other.baseLength || this.targetLength !== other.targetLength) return false;
    if (this.ops.length !== other.ops.length) return false;
    return this.ops.every((op, i) => op === other.ops[i]);
  }

  toString() {
    return this.ops.map((op) => isRetain(op) ? `retain ${op}` : isInsert(op) ? `insert '${op}'` : `delete ${-op}`).join(", ");
  }

  /** The components array (a copy), e.g. [2, "abc", -1]. */
  toJSON() {
    return this.ops.slice();
  }

  /**
   * Builds an operation from a components array, normalising it as the builders do. Throws on
   * anything that is not an array of non-zero integers (magnitude < 2^31) and non-empty
   * well-formed strings.
   */
  static fromJSON(ops) {
    if (!Array.isArray(ops)) throw new Error("an operation must be an array of components");
    const o = new TextOperation();
    for (const op of ops) {
      if (typeof op === "string" && op !== "") o.insert(op);
      else if (typeof op === "number" && Number.isInteger(op) && op !== 0 && Math.abs(op) <= MAX_COMPONENT) {
        if (op > 0) o.retain(op); else o.delete(op);
      } else {
        throw new Error(`unknown operation component: ${describe(op)}`);
      }
    }
    return o;
  }

  /** Throws unless `str` is a document this operation can apply to. */
  checkDocument(str) {
    if (typeof str !== "string") throw new Error("the document must be a string");
    if (str.length !== this.baseLength) {
      throw new Error(`the operation's base length (${this.baseLength}) must equal the document length (${str.length})`);
    }
    let index = 0;
    for (const op of this.ops) {
      if (isInsert(op)) continue;
      index += Math.abs(op);
      if (splitsPair(str, index)) throw new Error(`the operation splits a surrogate pair at offset ${index}`);
    }
  }

  /** Applies the operation to `str` and returns the new document. */
  apply(str) {
    this.checkDocument(str);
    const parts = [];
    let index = 0;
    for (const op of this.ops) {
      if (isRetain(op)) { parts.push(str.slice(index, index + op)); index += op; }
      else if (isInsert(op)) parts.push(op);
      else index -= op;
    }
    return parts.join("");
  }

  /** The operation that undoes this one, given the document it was applied to. */
  invert(str) {
    this.checkDocument(str);
    const inverse = new TextOperation();
    let index = 0;
    for (const op of this.ops) {
      if (isRetain(op)) { inverse.retain(op); index += op; }
      else if (isInsert(op)) inverse.delete(op.length);
      else { inverse.insert(str.slice(index, index - op)); index -= op; }
    }
    return inverse;
  }

  /** One operation with the effect of this one followed by `other`. */
  compose(other) {
    if (!(other instanceof TextOperation)) throw new Error("compose expects a TextOperation");
    if (this.targetLength !== other.baseLength) {
      throw new Error(`cannot compose: the first operation's target length (${this.targetLength}) must equal the second's base length (${other.baseLength})`);
    }
    const result = new TextOperation();
    const ops1 = this.ops, ops2 = other.ops;
    let i1 = 0, i2 = 0;
    let op1 = ops1[i1++], op2 = ops2[i2++];
    while (op1 !== undefined || op2 !== undefined) {
      if (isDelete(op1)) { result.delete(op1); op1 = ops1[i1++]; continue; }
      if (isInsert(op2)) { result.insert(op2); op2 = ops2[i2++]; continue; }
      if (op1 === undefined) throw new Error("cannot compose: the first operation is too short");
      if (op2 === undefined) throw new Error("cannot compose: the first operation is too long");

      if (isRetain(op1) && isRetain(op2)) {
        if (op1 > op2) { result.retain(op2); op1 -= op2; op2 = ops2[i2++]; }
        else if (op1 === op2) { result.retain(op1); op1 = ops1[i1++]; op2 = ops2[i2++]; }
        else { result.retain(op1); op2 -= op1; op1 = ops1[i1++]; }
      } else if (isInsert(op1) && isDelete(op2)) {
        if (op1.length > -op2) { op1 = op1.slice(-op2); op2 = ops2[i2++]; }
        else if (op1.length === -op2) { op1 = ops1[i1++]; op2 = ops2[i2++]; }
        else { op2 += op1.length; op1 = ops1[i1++]; }
      } else if (isInsert(op1) && isRetain(op2)) {
        if (op1.length > op2) { result.insert(op1.slice(0, op2)); op1 = op1.slice(op2); op2 = ops2[i2++]; }
        else if (op1.length === op2) { result.insert(op1); op1 = ops1[i1++]; op2 = ops2[i2++]; }
        else { result.insert(op1); op2 -= op1.length; op1 = ops1[i1++]; }
      } else { // retain op1, delete op2
        if (op1 > -op2) { result.delete(op2); op1 += op2; op2 = ops2[i2++]; }
        else if (op1 === -op2) { result.delete(op2); op1 = ops1[i1++]; op2 = ops2[i2++]; }
        else { result.delete(op1); op2 += op1; op1 = ops1[i1++]; }
      }
    }
    return result;
  }

  /**
   * For concurrent `a` and `b` on the same document, returns [a', b'] with
   * apply(apply(s, a), b') === apply(apply(s, b), a'). When both insert at the same place,
   * a's text comes first.
   */
  static transform(a, b) {
    if (!(a instanceof TextOperation) || !(b instanceof TextOperation)) throw new Error("transform expects two TextOperations");
    if (a.baseLength !== b.baseLength) {
      throw new Error(`cannot transform: both operations must have the same base length (${a.baseLength} vs ${b.baseLength})`);
    }
    const aPrime = new TextOperation(), bPrime = new TextOperation();
    const ops1 = a.ops, ops2 = b.ops;
    let i1 = 0, i2 = 0;
    let op1 = ops1[i1++], op2 = ops2[i2++];
    while (op1 !== undefined || op2 !== undefined) {
      if (isInsert(op1)) { aPrime.insert(op1); bPrime.retain(op1.length); op1 = ops1[i1++]; continue; }
      if (isInsert(op2)) { aPrime.retain(op2.length); bPrime.insert(op2); op2 = ops2[i2++]; continue; }
      if (op1 === undefined) throw new Error("cannot transform: the first operation is too short");
      if (op2 === undefined) throw new Error("cannot transform: the first operation is too long");

      let minl;
      if (isRetain(op1) && isRetain(op2)) {
        if (op1 > op2) { minl = op2; op1 -= op2; op2 = ops2[i2++]; }
        else if (op1 === op2) { minl = op2; op1 = ops1[i1++]; op2 = ops2[i2++]; }
        else { minl = op1; op2 -= op1; op1 = ops1[i1++]; }
        aPrime.retain(minl);
        bPrime.retain(minl);
      } else if (isDelete(op1) && isDelete(op2)) {
        // Both delete the same text: nothing to do but skip the shorter delete.
        if (-op1 > -op2) { op1 -= op2; op2 = ops2[i2++]; }
        else if (op1 === op2) { op1 = ops1[i1++]; op2 = ops2[i2++]; }
        else { op2 -= op1; op1 = ops1[i1++]; }
      } else if (isDelete(op1) && isRetain(op2)) {
        if (-op1 > op2) { minl = op2; op1 += op2; op2 = ops2[i2++]; }
        else if (-op1 === op2) { minl = op2; op1 = ops1[i1++]; op2 = ops2[i2++]; }
        else { minl = -op1; op2 += op1; op1 = ops1[i1++]; }
        aPrime.delete(minl);
      } else { // retain op1, delete op2
        if (op1 > -op2) { minl = -op2; op1 += op2; op2 = ops2[i2++]; }
        else if (op1 === -op2) { minl = op1; op1 = ops1[i1++]; op2 = ops2[i2++]; }
        else { minl = op1; op2 += op1; op1 = ops1[i1++]; }
        bPrime.delete(minl);
      }
    }
    return [aPrime, bPrime];
  }

  /**
   * Undo grouping (as ot.js): true when `other`, applied right after this, continues the same
   * typing or deleting run and the two should be one undo step.
   */
  shouldBeComposedWith(other) {
    if (this.isNoop() || other.isNoop()) return true;
    const startA = startIndex(this), startB = startIndex(other);
    const simpleA = simpleOp(this), simpleB = simpleOp(other);
    if (simpleA === null || simpleB === null) return false;
    if (isInsert(simpleA) && isInsert(simpleB)) return startA + simpleA.length === startB;
    if (isDelete(simpleA) && isDelete(simpleB)) return startB - simpleB === startA || startA === startB;
    return false;
  }

  /** shouldBeComposedWith(a, b) === b⁻¹.shouldBeComposedWithInverted(a⁻¹), for the redo stack. */
  shouldBeComposedWithInverted(other) {
    if (this.isNoop() || other.isNoop()) return true;
    const startA = startIndex(this), startB = startIndex(other);
    const simpleA = simpleOp(this), simpleB = simpleOp(other);
    if (simpleA === null || simpleB === null) return false;
    if (isInsert(simpleA) && isInsert(simpleB)) return startA + simpleA.length === startB || startA === startB;
    if (isDelete(simpleA) && isDelete(simpleB)) return startB - simpleB === startA;
    return false;
  }
}

/** The single insert or delete of an operation shaped [retain?, op, retain?], else null. */
function simpleOp(operation) {
  const ops = operation.ops;
  switch (ops.length) {
    case 1: return ops[0];
    case 2: return isRetain(ops[0]) ? ops[1] : isRetain(ops[1]) ? ops[0] : null;
    case 3: return isRetain(ops[0]) && isRetain(ops[2]) ? ops[1] : null;
    default: return null;
  }
}

function startIndex(operation) {
  return isRetain(operation.ops[0]) ? operation.ops[0] : 0;
}

function describe(value) {
  if (typeof value === "number" || value === undefined) return String(value);
  if (typeof value === "string") return value === "" ? "empty string" : "string";
  try { return JSON.stringify(value) ?? typeof value; } catch { return typeof value; }
}
