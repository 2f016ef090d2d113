// The notes outline with the server's rules (a port of Sources/HourglassCore/Notes/NotesDocument.swift):
// bullets with a parent (a section or another bullet), an order key, text, a text revision and a
// deleted flag. The notes client replays the server's entries with it and predicts its own
// changes with the same rules; the tests' fake server is built on it too.

import { TextOperation } from "./ot.js";
import { between, isValidKey } from "./order.js";

export const MEETING = "meeting";
export const MAX_TEXT = 10_000;
export const MAX_BULLETS = 20_000;

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Ids of bullets and clients: 1 to 64 of A-Za-z0-9_-. */
export const isValidId = (id) => typeof id === "string" && ID.test(id);

/** A refused change; `code` is the server's error code (invalid, notFound, cycle, tooLarge, stale). */
export class NotesError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Sibling order: by order key, then by id (plain code-unit comparison, as ASCII byte order). */
export function compareBullets(a, b) {
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class Outline {
  /**
   * @param {Array} bullets initial bullets ({id, parent, order, text, rev, deleted}), copied
   * @param {Iterable<string>|null} sections the valid section ids; null (the client's case) treats
   *   every id that is not a bullet as a section, since the server has checked them already
   */
  constructor(bullets = [], sections = null) {
    this.sections = sections ? new Set([...sections, MEETING]) : null;
    /** id → bullet (deleted ones included). */
    this.bullets = new Map();
    /** parent id → Set of child ids (deleted ones included). */
    this.kids = new Map();
    for (const b of bullets) this.put({ id: b.id, parent: b.parent, order: b.order, text: b.text ?? "", rev: b.rev ?? 0, deleted: !!b.deleted });
  }

  clone() {
    return new Outline(this.bullets.values(), this.sections);
  }

  get(id) {
    return this.bullets.get(id);
  }

  has(id) {
    return this.bullets.has(id);
  }

  isSection(id) {
    return this.sections ? this.sections.has(id) : !this.bullets.has(id);
  }

  /** Inserts or replaces a bullet object (kept as is, not copied). */
  put(bullet) {
    const old = this.bullets.get(bullet.id);
    if (old) this.#unlink(old.id, old.parent);
    this.bullets.set(bullet.id, bullet);
    this.#link(bullet.id, bullet.parent);
  }

  remove(id) {
    const old = this.bullets.get(id);
    if (!old) return;
    this.#unlink(id, old.parent);
    this.bullets.delete(id);
  }

  /** Changes where a bullet sits (parent, order, deleted), keeping its text and revision. */
  setPlace(id, parent, order, deleted) {
    const b = this.bullets.get(id);
    if (b.parent !== parent) {
      this.#unlink(id, b.parent);
      b.parent = parent;
      this.#link(id, parent);
    }
    b.order = order;
    b.deleted = deleted;
  }

  #link(id, parent) {
    let set = this.kids.get(parent);
    if (!set) this.kids.set(parent, (set = new Set()));
    set.add(id);
  }

  #unlink(id, parent) {
    const set = this.kids.get(parent);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.kids.delete(parent);
  }

  /** Live children of a section or bullet, in order. */
  children(parent) {
    const out = [];
    for (const id of this.kids.get(parent) ?? []) {
      const b = this.bullets.get(id);
      if (!b.deleted) out.push(b);
    }
    return out.sort(compareBullets);
  }

  /** The parent itself when it is a section or a live bullet, else its nearest live ancestor. */
  liveParent(parent) {
    let current = parent;
    for (let steps = 0; !this.isSection(current); steps++) {
      const b = this.bullets.get(current);
      if (!b || steps >= MAX_BULLETS) throw new NotesError("notFound", "No such parent");
      if (!b.deleted) return current;
      current = b.parent;
    }
    return current;
  }

  /** True when putting `id` under `parent` would make it its own ancestor. */
  wouldCycle(id, parent) {
    let node = parent;
    for (let steps = 0; node !== undefined && !this.isSection(node) && steps <= MAX_BULLETS; steps++) {
      if (node === id) return true;
      node = this.bullets.get(node)?.parent;
    }
    return false;
  }

  /**
   * Order keys for `count` bullets that take `b`'s place among its siblings (after its key,
   * before the next sibling's), or null when they do not fit (the bullets then keep their own).
   * The same as `keys(inPlaceOf:count:)` in Swift's NotesDocument.
   */
  keysInPlaceOf(b, count) {
    let next = null;
    for (const sid of this.kids.get(b.parent) ?? []) {
      const s = this.bullets.get(sid);
      if (s.id !== b.id && s.order > b.order && (next === null || s.order < next)) next = s.order;
    }
    const keys = [];
    let previous = b.order;
    try {
      for (let i = 0; i < count; i++) keys.push(previous = between(previous, next));
    } catch {
      return null;
    }
    return keys;
  }

  /** Ids a change touches: the bullet, plus the live children a delete moves up. */
  affected(change) {
    if (change.kind === "delete" && this.bullets.has(change.bullet)) {
      return [change.bullet, ...this.children(change.bullet).map((b) => b.id)];
    }
    return [change.bullet];
  }

  /**
   * Applies one change with the server's rules and returns it as applied ({kind, bullet, …} with
   * the parent actually used and, for text, the transformed op as an array). For a text change,
   * `history(id, rev)` returns the ops (TextOperations) that took the bullet from `rev` to its
   * current revision; without it the op must already apply to the current text. Throws a
   * NotesError and changes nothing when the change is refused.
   */
  apply(change, history = null) {
    const id = change.bullet;
    switch (change.kind) {
      case "create": {
        if (!isValidId(id)) throw new NotesError("invalid", "A bullet id must be 1 to 64 letters, digits, - or _");
        if (this.bullets.has(id)) throw new NotesError("invalid", "A bullet with this id exists already");
        if (this.bullets.size >= MAX_BULLETS) throw new NotesError("tooLarge", `These notes already have ${MAX_BULLETS} bullets`);
        checkOrder(change.order);
        const text = change.text ?? "";
        if (typeof text !== "string") throw new NotesError("invalid", "Bullet text must be a string");
        checkText(text);
        const parent = this.liveParent(change.parent);
        this.put({ id, parent, order: change.order, text, rev: 0, deleted: false });
        return { kind: "create", bullet: id, parent, order: change.order, text };
      }
      case "move": {
        if (!this.bullets.has(id)) throw new NotesError("notFound", "No such bullet");
        checkOrder(change.order);
        if (!this.isSection(change.parent) && !this.bullets.has(change.parent)) throw new NotesError("notFound", "No such parent");
        if (this.wouldCycle(id, change.parent)) throw new NotesError("cycle", "A bullet cannot move inside itself");
        const parent = this.liveParent(change.parent);
        this.setPlace(id, parent, change.order, false);
        return { kind: "move", bullet: id, parent, order: change.order };
      }
      case "delete": {
        const b = this.bullets.get(id);
        if (!b) throw new NotesError("notFound", "No such bullet");
        if (!b.deleted) {
          const children = this.children(id);
          const keys = this.keysInPlaceOf(b, children.length);
          children.forEach((child, i) => this.setPlace(child.id, b.parent, keys ? keys[i] : child.order, false));
          b.deleted = true;
        }
        return { kind: "delete", bullet: id };
      }
      case "text": {
        const b = this.bullets.get(id);
        if (!b) throw new NotesError("notFound", "No such bullet");
        const rev = change.rev;
        if (!Number.isInteger(rev) || rev < 0 || rev > b.rev) {
          throw new NotesError("stale", `Revision ${rev} of this bullet does not exist yet (it is at ${b.rev})`);
        }
        let op, text;
        try {
          op = change.op instanceof TextOperation ? change.op : TextOperation.fromJSON(change.op);
          if (history) for (const concurrent of history(id, rev)) op = TextOperation.transform(op, concurrent)[0];
          text = op.apply(b.text);
        } catch (error) {
          if (error instanceof NotesError) throw error;
          throw new NotesError("invalid", error.message);
        }
        checkText(text);
        const base = b.rev;
        b.text = text;
        b.rev += 1;
        if (b.deleted) {
          // Typing brings a deleted bullet back: nothing anyone types is lost.
          let parent;
          try { parent = this.liveParent(b.parent); } catch { parent = MEETING; }
          this.setPlace(id, parent, b.order, false);
        }
        // As applied: the op now applies to revision `base`, the bullet's revision before it.
        return { kind: "text", bullet: id, rev: base, op: op.toJSON() };
      }
      default:
        throw new NotesError("invalid", `Unknown change kind ${JSON.stringify(change.kind)}`);
    }
  }
}

function checkOrder(order) {
  if (!isValidKey(order)) throw new NotesError("invalid", "The order key is not valid");
}

function checkText(text) {
  if (text.length > MAX_TEXT) {
    throw new NotesError("tooLarge", `A bullet holds at most ${MAX_TEXT} characters; split the text into several bullets`);
  }
}
