// Fractional order keys for siblings in the notes outline. A key is a base-62 fraction
// 0.d1d2d3… written with the digits 0-9A-Za-z (ASCII order, so plain string comparison is
// numeric comparison). Keys never end in "0", so there is always another key between two.
//
// between(a, b) is deterministic and is ported line by line to Swift; the shared vectors in
// Tests/fixtures/ot-vectors.json ("between") pin its output.
//
// Algorithm (a = null means "before everything", b = null means "after everything"):
//
//   between(null, null) = "V"                         (the middle digit)
//   between(a, null)    = after(a)
//   between(null, b)    = before(b)
//   between(a, b): walk i = 0, 1, …, copying the common prefix into `out`:
//     if a has no digit i:         return out + before(b[i…])      (a is a prefix of b)
//     da = digit(a[i]), db = digit(b[i])
//     if da == db:                 out += a[i]; continue
//     if db - da >= 2:             return out + DIGITS[da + 1]      (room: one step above a)
//     else (db == da + 1):         return out + a[i] + after(a[i+1…])  (b no longer limits)
//
//   after(r)  — a short key above r with no upper limit: for each digit d of r:
//               if d < 61 return out + DIGITS[d + 1], else out += "z"; when r runs out
//               return out + "V".
//   before(r) — a short key below r (r ends in a non-zero digit): for each digit d of r:
//               if d >= 2 return out + DIGITS[d - 1]; if d == 1 return out + "0z";
//               else (d == 0) out += "0".
//
// Stepping by one digit (rather than taking midpoints) keeps keys short for the usual edits:
// after 1000 appends at the end, or 1000 bullets typed one after another between two
// siblings, keys are at most 34 characters; 1000 prepends, 17; 10 000 inserts at random
// places, 13. About 1900 appends in a row, or ~125 inserts that keep landing in the middle
// of the same shrinking gap from alternate sides, exhaust the 64 characters: between() then
// throws and the siblings must be given fresh keys (spread()).

/** The 62 digits in ASCII order. */
export const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Longest valid key. */
export const MAX_KEY_LENGTH = 64;

const KEY = /^[0-9A-Za-z]{0,63}[1-9A-Za-z]$/;

/** True for 1–64 digits of 0-9A-Za-z not ending in "0". */
export function isValidKey(k) {
  return typeof k === "string" && KEY.test(k);
}

const digit = (ch) => DIGITS.indexOf(ch);

/** A key above r, with no upper limit. */
function after(r) {
  let out = "";
  for (const ch of r) {
    const d = digit(ch);
    if (d < 61) return out + DIGITS[d + 1];
    out += "z";
  }
  return out + "V";
}

/** A key below r (r is non-empty and ends in a non-zero digit), with lower limit 0. */
function before(r) {
  let out = "";
  for (const ch of r) {
    const d = digit(ch);
    if (d >= 2) return out + DIGITS[d - 1];
    if (d === 1) return out + "0z";
    out += "0";
  }
  throw new Error("unreachable: a valid key ends in a non-zero digit");
}

/** A key strictly between a and b (either may be null for the start / end). Deterministic. */
export function between(a, b) {
  if (a !== null && !isValidKey(a)) throw new Error(`invalid order key: ${JSON.stringify(a)}`);
  if (b !== null && !isValidKey(b)) throw new Error(`invalid order key: ${JSON.stringify(b)}`);
  if (a !== null && b !== null && !(a < b)) throw new Error(`order keys out of order: ${a} is not before ${b}`);
  let key;
  if (a === null) key = b === null ? "V" : before(b);
  else if (b === null) key = after(a);
  else {
    let out = "";
    for (let i = 0; ; i++) {
      if (i >= a.length) { key = out + before(b.slice(i)); break; }
      const da = digit(a[i]), db = digit(b[i]);
      if (da === db) { out += a[i]; continue; }
      key = db - da >= 2 ? out + DIGITS[da + 1] : out + a[i] + after(a.slice(i + 1));
      break;
    }
  }
  if (key.length > MAX_KEY_LENGTH) throw new Error("no room for another order key here: the siblings need fresh keys");
  return key;
}

/** `count` evenly spread keys of equal length, for giving siblings fresh keys. */
export function spread(count) {
  if (!Number.isInteger(count) || count < 0 || count > 1_000_000) throw new Error("spread expects an integer from 0 to 1000000");
  let width = 1;
  while (62 ** width <= count) width++;
  const keys = [];
  for (let i = 1; i <= count; i++) {
    // Position i of count+1 equal steps, as a width-digit base-62 fraction.
    let n = Math.floor((i * 62 ** width) / (count + 1));
    let s = "";
    for (let j = 0; j < width; j++) { s = DIGITS[n % 62] + s; n = Math.floor(n / 62); }
    keys.push(s.replace(/0+$/, ""));
  }
  return keys;
}
