// The meeting notes outliner on the meeting page: sections (the meeting's own, then one per topic
// in board order) holding trees of bullets, edited together live over the page's one WebSocket.
// The document, the sync with the server, undo and the offline queue are NotesClient's
// (notes-client.js); this module is the view: it renders the outline, edits one bullet at a
// time in a <textarea>, maps keys to outline actions and shows the others' carets.
//
// Keys while editing a bullet: Enter new bullet (splits at the caret) · Tab / Shift+Tab indent /
// outdent · Backspace at the start merges into the previous bullet (deletes an empty one) ·
// Delete at the end merges the next one in · ↑/↓ on the first/last line and ←/→ at the ends go to
// the previous/next bullet · Alt+Shift+↑/↓ move the bullet among its siblings · Ctrl/⌘+Z undo,
// Ctrl/⌘+Shift+Z or Ctrl+Y redo · Escape stops editing. Outside the editor a focused bullet
// starts editing with Enter (or F2) and ↑/↓ move between bullets.
//
// The helpers at the top are pure (tested in node); startNotes touches the DOM.

import { TextOperation } from "./ot.js";
import { NotesClient, MEETING, MAX_TEXT, transformIndex } from "./notes-client.js";
import { actionStatus, toggleAction } from "./action.js";

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/**
 * The operation turning `a` into `b` after an edit that left the caret at `caret` in `b`: like a
 * plain common prefix/suffix diff, but when the edit is ambiguous ("ab" → "aab") the change is
 * put where the caret says it happened, so concurrent edits and carets land right. Never splits
 * a surrogate pair.
 */
export function caretDiff(a, b, caret = null) {
  const known = Number.isInteger(caret) && caret >= 0 && caret <= b.length;
  const grow = Math.max(0, b.length - a.length);
  const max = Math.min(a.length, b.length);
  let p = 0;
  const pMax = known ? Math.max(0, Math.min(max, caret - grow)) : max;
  while (p < pMax && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  if (p > 0 && isHigh(a.charCodeAt(p - 1))) p--;
  let s = 0;
  const sMax = known ? Math.min(max - p, b.length - caret) : max - p;
  while (s < sMax && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  if (s > 0 && isLow(a.charCodeAt(a.length - s))) s--;
  return new TextOperation().retain(p).delete(a.length - p - s).insert(b.slice(p, b.length - s)).retain(s);
}

/** Where the caret belongs after `op` (an undo or redo): right after its last insert or at its last delete. */
export function opCaret(op) {
  let pos = 0;
  let caret = null;
  for (const c of op.ops) {
    if (TextOperation.isRetain(c)) pos += c;
    else if (TextOperation.isInsert(c)) { pos += c.length; caret = pos; }
    else caret = pos;
  }
  return caret ?? pos;
}

const LINK = /https?:\/\/[^\s<>"']+/g;

/**
 * Text cut into plain and link pieces, as the server's NotesView.linkified: http(s) URLs up to
 * whitespace or <>"', without trailing .,;:!?) — [{text, start, href?}].
 */
export function linkify(text) {
  const pieces = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let url = match[0];
    while (url.length && ".,;:!?)".includes(url[url.length - 1])) url = url.slice(0, -1);
    if (!url.match(/^https?:\/\/./)) continue;
    if (match.index > last) pieces.push({ text: text.slice(last, match.index), start: last });
    pieces.push({ text: url, start: match.index, href: url });
    last = match.index + url.length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last), start: last });
  return pieces;
}

/** A colour for a client id (a stable hue from its hash), readable with white text. */
export function caretColor(clientId) {
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) {
    h ^= clientId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `hsl(${h % 360} 70% 38%)`;
}

/** Bullet ids in reading order: each section's tree, depth first. */
export function documentOrder(client, sectionIds) {
  const out = [];
  const walk = (parent) => {
    for (const b of client.children(parent)) {
      out.push(b.id);
      walk(b.id);
    }
  };
  for (const s of sectionIds) walk(s);
  return out;
}

/** The section a bullet is in (its top-level parent), or null when it is not in the outline. */
export function sectionOf(client, id) {
  let node = client.bullet(id);
  for (let steps = 0; node && steps < 100_000; steps++) {
    const parent = client.bullet(node.parent);
    if (!parent) return node.parent;
    node = parent;
  }
  return null;
}

/** Lines of pasted text as bullet texts: bullet markers and indentation dropped, blank lines skipped. */
export function pastedLines(text) {
  return text.split(/\r\n|\r|\n/)
    .map((line) => line.replace(/^\s*(?:[-*+•]\s+)?/, "").replace(/\s+$/, ""))
    .filter((line) => line !== "");
}

/** "1 unsaved change", "3 unsaved changes", or "" for none. */
export function pendingText(n) {
  return n > 0 ? `${n} unsaved change${n === 1 ? "" : "s"}` : "";
}

/** A random id of `n` characters from A-Za-z0-9_- (works without a secure context). */
export function randomId(n = 16) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const bytes = new Uint8Array(n);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => alphabet[b & 63]).join("");
}

// MARK: The view

/** The keyboard map shown under "All keys". */
export const KEYS = [
  ["Enter", "new bullet below (splits the text at the caret)"],
  ["Tab / Shift+Tab", "indent / outdent"],
  ["Backspace", "on an empty bullet: delete it; at the start: join with the bullet above"],
  ["Delete", "at the end: join the bullet below"],
  ["↑ ↓", "on the first / last line: previous / next bullet"],
  ["← →", "at the start / end: previous / next bullet"],
  ["Alt+Shift+↑ ↓", "move the bullet up / down"],
  ["Ctrl+Z (⌘Z)", "undo your own change"],
  ["Ctrl+Shift+Z, Ctrl+Y (⌘⇧Z)", "redo"],
  ["Esc", "stop editing (then Tab leaves the notes)"],
  ["Enter or F2", "on a focused bullet: edit it"],
  ["Paste several lines", "one bullet per line"],
  ["Ctrl+Enter (⌘↵)", "make the bullet an action item ([todo]), then done ([done]), then plain again"],
];

/**
 * Starts the outliner in `root` (the #notes section). Returns the hooks the page's connection
 * calls: connected(), disconnected(), handle(frame) → true when it was a notes frame, and
 * setTopics(topics) with the board's topics in display order.
 */
export function startNotes(root, { send }) {
  const body = root.querySelector("#notes-body");
  let canEdit = root.dataset.canEdit === "true";
  const clientId = randomId(20);

  /** Section list [{id, title}]; starts as the server rendered it. */
  let sections = [...body.querySelectorAll(":scope > section.notes-section")]
    .map((el) => ({ id: el.dataset.section, title: el.querySelector("h3")?.textContent ?? "" }));
  let sectionsKey = "";
  /** section id → {el, h3, ul, add} */
  const sectionEls = new Map();
  /** bullet id → {li, text, ul, shown} (shown: the text and carets the span was rendered with) */
  const bulletEls = new Map();
  /** The bullet being edited: {id, li, wrap, textarea, overlay, measure, shadow, remote} */
  let editing = null;
  let composing = false;
  let inputting = false;
  let loaded = false;
  let renderQueued = false;
  let order = [];
  /** Others' carets as shown: [{client, name, bullet, offset}], moved along by every text change. */
  let carets = [];
  /** Events collected during an undo or redo (to know where to put the caret). */
  let captured = null;

  // Status line (unsaved changes) and, for editors, the keyboard help.
  const status = document.createElement("p");
  status.className = "notes-status";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  const help = document.createElement("div");
  help.className = "notes-help";
  const helpLine = document.createElement("p");
  helpLine.id = "notes-help";
  helpLine.textContent = "Click a bullet, or press Enter on it, to edit. Enter adds a bullet, Tab indents, Esc stops editing.";
  const keys = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "All keys";
  const list = document.createElement("dl");
  for (const [k, what] of KEYS) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = what;
    list.append(dt, dd);
  }
  keys.append(summary, list);
  help.append(helpLine, keys);
  body.before(status);
  if (canEdit) status.after(help);
  root.classList.toggle("editable", canEdit);

  /** Scrolls to and highlights the bullet named in the URL (#bullet-ID), e.g. from a search result. */
  function revealTarget() {
    for (const old of body.querySelectorAll("li.highlight")) old.classList.remove("highlight");
    const id = decodeURIComponent(location.hash.slice(1));
    if (!id.startsWith("bullet-")) return;
    const li = document.getElementById(id);
    if (!li || !body.contains(li)) return;
    li.classList.add("highlight");
    li.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", revealTarget);

  const client = new NotesClient({
    clientId,
    send: (frame) => send(frame),
    onChange: (event) => changed(event),
    newId: () => randomId(22),
    // Not the bare queueMicrotask: called as a method it throws "Illegal invocation" in browsers.
    schedule: (fn) => queueMicrotask(fn),
  });

  // MARK: Client events

  function changed(event) {
    captured?.push(event);
    switch (event.type) {
      case "bullet":
        moveCarets(event.id, event.op);
        if (loaded) textChanged(event);
        break;
      case "structure":
        queueRender();
        break;
      case "reset":
        if (!loaded) requestAnimationFrame(() => requestAnimationFrame(revealTarget));
        loaded = true;
        if (editing) {
          editing.remote = null;
          syncEditor(null);
        }
        queueRender();
        break;
      case "carets": {
        const before = new Set(carets.map((c) => c.bullet));
        carets = client.carets.map((c) => ({ ...c }));
        if (loaded) showCarets(before);
        break;
      }
      case "error":
        if (event.code === "diverged") console.warn("notes: starting over from a snapshot:", event.message);
        else if (event.id != null) showNotice(`A change to the notes was not saved: ${event.message}`);
        if (client.readOnly && canEdit) becomeReadOnly();
        break;
      default:
        break;
    }
    updateStatus();
  }

  function moveCarets(id, op) {
    for (const c of carets) if (c.bullet === id) c.offset = transformIndex(c.offset, op);
  }

  function textChanged(event) {
    const { id, op } = event;
    if (editing?.id === id) {
      if (inputting) return; // the textarea is where it came from
      if (composing) {
        // Leave an IME composition alone; the change is merged in on the next input.
        editing.remote = editing.remote ? editing.remote.compose(op) : op;
        return;
      }
      syncEditor(op);
      return;
    }
    const entry = bulletEls.get(id);
    if (entry) paintText(entry, id);
  }

  // MARK: Rendering

  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    queueMicrotask(() => {
      if (renderQueued) renderNow();
    });
  }

  function renderNow() {
    renderQueued = false;
    if (!loaded) return;
    const ta = editing?.textarea;
    const selection = ta ? [ta.selectionStart, ta.selectionEnd, ta.selectionDirection] : null;
    const hadFocus = ta && document.activeElement === ta;
    renderSections();
    root.dataset.state = "ready";
    const seen = new Set();
    for (const s of sections) renderList(s.id, sectionEls.get(s.id).ul, seen);
    for (const [id, entry] of bulletEls) if (!seen.has(id)) bulletEls.delete(id);
    const previousOrder = order;
    order = documentOrder(client, sections.map((s) => s.id));
    if (editing) {
      if (!editing.li.isConnected || !seen.has(editing.id)) {
        // Deleted (or its section went away) while being edited: focus a neighbour instead.
        const gone = editing.id;
        stopEditing({ focus: false });
        if (hadFocus) focusSpan(neighbour(gone, previousOrder));
      } else if (hadFocus && document.activeElement !== ta) {
        ta.focus({ preventScroll: true });
        ta.setSelectionRange(...selection);
      }
    }
    showCarets();
  }

  /** The nearest bullet before `id` in `previous` reading order that still exists (else after it). */
  function neighbour(id, previous) {
    const i = previous.indexOf(id);
    if (i < 0) return null;
    for (let j = i - 1; j >= 0; j--) if (bulletEls.has(previous[j]) && isLive(previous[j])) return previous[j];
    for (let j = i + 1; j < previous.length; j++) if (bulletEls.has(previous[j]) && isLive(previous[j])) return previous[j];
    return null;
  }

  function isLive(id) {
    const b = client.bullet(id);
    return !!b && !b.deleted && order.includes(id);
  }

  function renderSections() {
    let cursor = body.firstElementChild;
    for (const s of sections) {
      let entry = sectionEls.get(s.id);
      if (!entry) {
        let el = [...body.querySelectorAll(":scope > section.notes-section")].find((x) => x.dataset.section === s.id);
        if (!el) {
          el = document.createElement("section");
          el.className = "notes-section";
          el.dataset.section = s.id;
          el.append(document.createElement("h3"));
        }
        const h3 = el.querySelector(":scope > h3") ?? el.insertBefore(document.createElement("h3"), el.firstChild);
        // Drop the server's bullets: the outline is rendered from the client's copy from now on.
        for (const old of el.querySelectorAll(":scope > ul")) old.remove();
        const ul = document.createElement("ul");
        ul.className = "bullets";
        h3.after(ul);
        const add = document.createElement("button");
        add.type = "button";
        add.className = "add-bullet";
        add.textContent = "+ Add a bullet";
        add.dataset.addTo = s.id;
        ul.after(add);
        entry = { el, h3, ul, add, title: null };
        sectionEls.set(s.id, entry);
      }
      if (entry.title !== s.title) {
        entry.title = s.title;
        entry.h3.textContent = s.title;
        entry.el.setAttribute("aria-label", s.title);
        entry.add.setAttribute("aria-label", `Add a bullet to ${s.title}`);
      }
      entry.add.hidden = !canEdit;
      if (entry.el !== cursor) body.insertBefore(entry.el, cursor);
      else cursor = cursor.nextElementSibling;
    }
    while (cursor) {
      const next = cursor.nextElementSibling;
      if (cursor.matches("section.notes-section")) {
        sectionEls.delete(cursor.dataset.section);
        cursor.remove();
      }
      cursor = next;
    }
    for (const [id, entry] of sectionEls) {
      entry.el.classList.toggle("empty", client.children(id).length === 0);
    }
  }

  /** Makes `ul` hold exactly the bullets under `parent`, moving as few elements as it can, then recurses. */
  function renderList(parent, ul, seen) {
    let cursor = ul.firstElementChild;
    const kids = client.children(parent).map((b) => [b.id, bulletEls.get(b.id) ?? makeBullet(b.id)]);
    for (const [, entry] of kids) {
      if (entry.li !== cursor) ul.insertBefore(entry.li, cursor);
      else cursor = cursor.nextElementSibling;
    }
    while (cursor) {
      const next = cursor.nextElementSibling;
      cursor.remove();
      cursor = next;
    }
    // Children last: a bullet moved into a later list is taken from this one only after this one is done.
    for (const [id, entry] of kids) {
      seen.add(id);
      if (editing?.id !== id) paintText(entry, id);
      renderList(id, entry.ul, seen);
    }
  }

  function makeBullet(id) {
    const li = document.createElement("li");
    li.id = `bullet-${id}`;
    li.dataset.bullet = id;
    const text = document.createElement("span");
    text.className = "text";
    const ul = document.createElement("ul");
    ul.className = "bullets";
    li.append(text, ul);
    const entry = { li, text, ul, shown: null };
    setSpanEditable(entry);
    bulletEls.set(id, entry);
    return entry;
  }

  function setSpanEditable(entry) {
    if (canEdit) {
      entry.text.tabIndex = 0;
      entry.text.setAttribute("aria-describedby", "notes-help");
    } else {
      entry.text.removeAttribute("tabindex");
      entry.text.removeAttribute("aria-describedby");
    }
  }

  function caretsOn(id) {
    return carets.filter((c) => c.bullet === id);
  }

  /** Renders a bullet's text (with links and the others' carets) into its span, if it changed. */
  function paintText(entry, id) {
    const text = client.text(id) ?? "";
    const mine = caretsOn(id);
    const key = JSON.stringify([text, mine.map((c) => [c.client, c.name, c.offset])]);
    if (entry.shown === key) return;
    entry.shown = key;
    fillRich(entry.text, text, mine, true);
    entry.li.classList.toggle("others-here", mine.length > 0);
    const action = actionStatus(text);
    entry.li.classList.toggle("action", action !== null);
    entry.li.classList.toggle("open", action === "open");
    entry.li.classList.toggle("done", action === "done");
  }

  /**
   * Fills `el` with `text`: links as <a> (when `links`), and each caret as a thin coloured mark
   * with the person's name at its offset.
   */
  function fillRich(el, text, marks, links) {
    el.replaceChildren();
    const sorted = marks.map((c) => ({ ...c, offset: Math.max(0, Math.min(text.length, c.offset)) }))
      .sort((a, b) => a.offset - b.offset);
    let k = 0;
    const pieces = links ? linkify(text) : (text ? [{ text, start: 0 }] : []);
    pieces.forEach((piece, index) => {
      const last = index === pieces.length - 1;
      let target = el;
      if (piece.href) {
        const a = document.createElement("a");
        a.href = piece.href;
        a.rel = "noopener nofollow ugc";
        a.target = "_blank";
        el.append(a);
        target = a;
      }
      const end = piece.start + piece.text.length;
      let at = piece.start;
      while (k < sorted.length && (sorted[k].offset < end || (last && sorted[k].offset <= end))) {
        const c = sorted[k++];
        if (c.offset > at) target.append(text.slice(at, c.offset));
        at = Math.max(at, c.offset);
        target.append(caretMark(c));
      }
      if (end > at) target.append(text.slice(at, end));
    });
    while (k < sorted.length) el.append(caretMark(sorted[k++]));
  }

  function caretMark(c) {
    const mark = document.createElement("span");
    mark.className = "remote-caret";
    mark.dataset.client = c.client;
    mark.setAttribute("aria-hidden", "true");
    mark.style.setProperty("--who", caretColor(c.client));
    const name = document.createElement("span");
    name.className = "caret-name";
    name.textContent = c.name;
    mark.append(name);
    return mark;
  }

  /** Repaints the bullets that have carets now, or had them in `before` (every bullet when null). */
  function showCarets(before = null) {
    const ids = before ? new Set([...before, ...carets.map((c) => c.bullet)]) : [...bulletEls.keys()];
    for (const id of ids) {
      const entry = bulletEls.get(id);
      if (!entry) continue;
      if (editing?.id !== id) paintText(entry, id);
      else paintOverlay();
      // Names of who is where, for screen readers.
      const who = caretsOn(id).map((c) => c.name);
      const label = who.length ? `${who.join(", ")} ${who.length === 1 ? "is" : "are"} editing this bullet` : null;
      let hint = entry.li.querySelector(":scope > .who");
      if (label && !hint) {
        hint = document.createElement("span");
        hint.className = "who visually-hidden";
        entry.li.insertBefore(hint, entry.ul);
      }
      if (hint) {
        if (label) hint.textContent = label;
        else hint.remove();
      }
    }
  }

  // MARK: Sections from the board

  function setTopics(topics) {
    const next = [{ id: MEETING, title: "Meeting notes" }]
      .concat(topics.map((t) => ({ id: String(t.id).toLowerCase(), title: `[${t.tag}] ${t.title} (${t.proposerName})` })));
    const key = JSON.stringify(next);
    if (key === sectionsKey) return;
    sectionsKey = key;
    sections = next;
    if (loaded) renderNow();
  }

  // MARK: Editing

  function startEditing(id, offset = null, { select = null } = {}) {
    if (!canEdit) return;
    if (renderQueued) renderNow();
    const entry = bulletEls.get(id);
    if (!entry || !entry.li.isConnected) return;
    const text = client.text(id) ?? "";
    const at = offset == null ? text.length : Math.max(0, Math.min(text.length, offset));
    if (editing?.id === id) {
      editing.textarea.focus({ preventScroll: false });
      editing.textarea.setSelectionRange(select?.[0] ?? at, select?.[1] ?? at);
      reportCaret();
      return;
    }
    stopEditing({ focus: false });
    const wrap = document.createElement("div");
    wrap.className = "editor";
    const textarea = document.createElement("textarea");
    textarea.className = "edit";
    textarea.rows = 1;
    textarea.spellcheck = true;
    textarea.value = text;
    textarea.setAttribute("aria-label", "Bullet text");
    textarea.setAttribute("aria-describedby", "notes-help");
    textarea.maxLength = MAX_TEXT;
    const overlay = document.createElement("div");
    overlay.className = "overlay";
    overlay.setAttribute("aria-hidden", "true");
    const measure = document.createElement("div");
    measure.className = "overlay measure";
    measure.setAttribute("aria-hidden", "true");
    wrap.append(textarea, overlay, measure);
    entry.text.hidden = true;
    entry.text.replaceChildren(); // painted again when editing stops
    entry.shown = null;
    entry.li.insertBefore(wrap, entry.text.nextSibling);
    entry.li.classList.add("editing");
    editing = { id, li: entry.li, wrap, textarea, overlay, measure, shadow: text, remote: null };
    const session = editing;
    textarea.addEventListener("input", onInput);
    textarea.addEventListener("keydown", onKeyDown);
    textarea.addEventListener("paste", onPaste);
    textarea.addEventListener("beforeinput", onBeforeInput);
    textarea.addEventListener("compositionstart", () => { composing = true; });
    textarea.addEventListener("compositionend", () => {
      composing = false;
      if (editing === session) {
        onInput();
        if (editing.remote) syncEditor(null);
      }
    });
    textarea.addEventListener("blur", () => {
      // Clicking elsewhere ends editing; a re-render moving the bullet refocuses it at once.
      setTimeout(() => {
        if (editing === session && document.activeElement !== textarea && document.hasFocus()) stopEditing({ focus: false });
      }, 0);
    });
    textarea.addEventListener("scroll", () => { overlay.scrollTop = textarea.scrollTop; });
    textarea.focus();
    textarea.setSelectionRange(select?.[0] ?? at, select?.[1] ?? at);
    paintOverlay();
    reportCaret();
  }

  function stopEditing({ focus = true } = {}) {
    if (!editing) return;
    const { id, wrap } = editing;
    const entry = bulletEls.get(id);
    editing = null;
    composing = false;
    wrap.remove();
    if (entry) {
      entry.text.hidden = false;
      entry.li.classList.remove("editing");
      entry.shown = null;
      paintText(entry, id);
      if (focus) entry.text.focus();
    }
    reportCaret();
  }

  function focusSpan(id) {
    const entry = id && bulletEls.get(id);
    if (entry) entry.text.focus();
  }

  /** Puts the client's text into the textarea; `op` (client text before → now) moves the selection. */
  function syncEditor(op) {
    const ed = editing;
    const ta = ed.textarea;
    const full = op && ed.remote ? ed.remote.compose(op) : op ?? ed.remote;
    const text = client.text(ed.id) ?? "";
    const focused = document.activeElement === ta;
    let start = ta.selectionStart, end = ta.selectionEnd;
    const dir = ta.selectionDirection;
    if (full && full.baseLength === ta.value.length) {
      start = transformIndex(start, full);
      end = transformIndex(end, full);
    }
    if (ta.value !== text) ta.value = text;
    start = Math.min(start, text.length);
    end = Math.min(end, text.length);
    if (focused) ta.setSelectionRange(start, end, dir);
    ed.shadow = text;
    ed.remote = null;
    paintOverlay();
  }

  function onInput() {
    const ed = editing;
    if (!ed) return;
    const ta = ed.textarea;
    let value = ta.value;
    if (!composing && /[\r\n]/.test(value)) {
      // A newline can only come from a drop or an odd input method: keep bullets single-line.
      const caret = ta.selectionEnd;
      value = value.replace(/\r\n|\r|\n/g, " ");
      ta.value = value;
      ta.setSelectionRange(caret, caret);
    }
    if (value === ed.shadow) return;
    let local = caretDiff(ed.shadow, value, ta.selectionEnd);
    let remote = ed.remote;
    if (remote) [local, remote] = TextOperation.transform(local, remote);
    inputting = true;
    try {
      client.editText(ed.id, local);
    } catch (error) {
      inputting = false;
      // Over the size limit (or out of step): put back what the client has.
      ed.remote = null;
      ta.value = client.text(ed.id) ?? "";
      ed.shadow = ta.value;
      if (error instanceof RangeError) showNotice(error.message);
      else console.warn("notes: editor out of step, text reloaded:", error);
      paintOverlay();
      return;
    } finally {
      inputting = false;
    }
    if (remote && !composing) {
      ed.shadow = value;
      ed.remote = remote;
      syncEditor(null);
    } else {
      ed.shadow = value;
      ed.remote = remote;
    }
    paintOverlay();
    reportCaret();
  }

  function onBeforeInput(event) {
    if (event.inputType === "historyUndo" || event.inputType === "historyRedo") {
      event.preventDefault();
      history(event.inputType === "historyRedo");
    }
  }

  function paintOverlay() {
    if (!editing) return;
    fillRich(editing.overlay, editing.textarea.value, caretsOn(editing.id), false);
    editing.li.classList.toggle("others-here", caretsOn(editing.id).length > 0);
  }

  /** The top of the visual line holding `offset` in the textarea (measured in a twin of it). */
  function lineTop(offset) {
    const { measure, textarea } = editing;
    const value = textarea.value;
    measure.replaceChildren(value.slice(0, offset));
    const mark = document.createElement("span");
    mark.textContent = "\u200b";
    measure.append(mark, value.slice(offset));
    const top = mark.offsetTop;
    measure.replaceChildren();
    return top;
  }

  /** The caret's offset from the start of its visual line (for keeping the column on ↑/↓). */
  function column(offset) {
    const top = lineTop(offset);
    let start = offset;
    while (start > 0 && lineTop(start - 1) === top) start--;
    return offset - start;
  }

  // MARK: Outline actions

  function act(fn) {
    client.breakUndoGroup();
    const result = client.batch(fn);
    renderNow();
    updateStatus();
    return result;
  }

  function sectionBullets(id) {
    const section = sectionOf(client, id);
    return order.filter((x) => sectionOf(client, x) === section);
  }

  /** Merges bullet `cur` into `prev` (its text appended, its children moved along), then edits `prev` at the seam. */
  function merge(prev, cur) {
    const prevText = client.text(prev);
    const curBullet = client.bullet(cur);
    if (prevText.length + curBullet.text.length > MAX_TEXT) {
      showNotice(`A bullet holds at most ${MAX_TEXT} characters`);
      return;
    }
    act(() => {
      const kids = client.children(cur).map((b) => b.id);
      if (curBullet.parent === prev) {
        let after = cur;
        for (const k of kids) { client.move(k, { parent: prev, after }); after = k; }
      } else {
        for (const k of kids) client.move(k, { parent: prev });
      }
      if (curBullet.text) client.setText(prev, prevText + curBullet.text);
      client.remove(cur);
    });
    startEditing(prev, prevText.length);
  }

  function history(redo) {
    const before = order;
    const wasEditing = editing?.id;
    const events = [];
    captured = events;
    let did;
    try {
      did = redo ? client.redo() : client.undo();
    } finally {
      captured = null;
    }
    renderNow();
    updateStatus();
    if (!did) return;
    let target = null;
    let offset = null;
    for (const e of events) if (e.type === "bullet" && isLive(e.id)) { target = e.id; offset = opCaret(e.op); }
    if (!target) {
      for (const e of events) if (e.type === "structure" && !e.deleted && isLive(e.id)) { target = e.id; offset = null; }
    }
    if (!target && wasEditing && isLive(wasEditing)) target = wasEditing;
    if (!target && wasEditing) target = neighbour(wasEditing, before);
    if (target) startEditing(target, offset);
  }

  function onKeyDown(event) {
    const ed = editing;
    if (!ed || event.isComposing || event.keyCode === 229) return;
    const ta = ed.textarea;
    const { id } = ed;
    const start = ta.selectionStart, end = ta.selectionEnd;
    const collapsed = start === end;
    const text = ta.value;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key;
    const plain = !mod && !event.altKey && !event.shiftKey;

    if (mod && !event.altKey && (key === "z" || key === "Z")) {
      event.preventDefault();
      history(event.shiftKey);
    } else if (event.ctrlKey && !event.metaKey && !event.altKey && !event.shiftKey && (key === "y" || key === "Y")) {
      event.preventDefault();
      history(true);
    } else if (key === "Enter" && mod && !event.altKey && !event.shiftKey) {
      // Ctrl/Cmd+Enter: plain bullet → [todo] action item → [done] → plain again.
      event.preventDefault();
      const next = toggleAction(text);
      act(() => client.setText(id, next));
      startEditing(id, Math.max(0, Math.min(next.length, end + next.length - text.length)));
    } else if (key === "Enter" && !mod && !event.altKey) {
      event.preventDefault();
      if (collapsed && start === 0 && text.length > 0) {
        // At the very start: a new empty bullet above, the caret stays with this text.
        act(() => client.createBullet({ before: id }));
        startEditing(id, 0);
      } else {
        const head = text.slice(0, start), tail = text.slice(end);
        const created = act(() => {
          if (head !== text) client.setText(id, head);
          return client.createBullet({ after: id, text: tail });
        });
        startEditing(created, 0);
      }
    } else if (key === "Tab" && !mod && !event.altKey) {
      event.preventDefault();
      const moved = act(() => (event.shiftKey ? client.outdent(id) : client.indent(id)));
      startEditing(id, null, { select: [start, end] });
      if (!moved) flash(ed.li);
    } else if (key === "Backspace" && plain && collapsed && start === 0) {
      const inSection = sectionBullets(id);
      const i = inSection.indexOf(id);
      if (text.length === 0) {
        event.preventDefault();
        const prev = inSection[i - 1], next = inSection[i + 1];
        act(() => {
          // Its children take its place (a plain delete would sort them among the new siblings by their old keys).
          const parent = client.bullet(id).parent;
          let after = id;
          for (const kid of client.children(id).map((k) => k.id)) {
            client.move(kid, { parent, after });
            after = kid;
          }
          client.remove(id);
        });
        if (prev) startEditing(prev);
        else if (next) startEditing(next, 0);
        else {
          stopEditing({ focus: false });
          sectionEls.get(sectionOf(client, id))?.add.focus();
        }
      } else if (i > 0) {
        event.preventDefault();
        merge(inSection[i - 1], id);
      }
    } else if (key === "Delete" && plain && collapsed && start === text.length) {
      const inSection = sectionBullets(id);
      const next = inSection[inSection.indexOf(id) + 1];
      if (next) {
        event.preventDefault();
        merge(id, next);
      }
    } else if ((key === "ArrowUp" || key === "ArrowDown") && event.altKey && event.shiftKey && !mod) {
      event.preventDefault();
      const sibs = client.children(client.bullet(id).parent);
      const i = sibs.findIndex((b) => b.id === id);
      const other = sibs[key === "ArrowUp" ? i - 1 : i + 1];
      if (other) {
        act(() => client.move(id, key === "ArrowUp" ? { before: other.id } : { after: other.id }));
        startEditing(id, null, { select: [start, end] });
      }
    } else if ((key === "ArrowUp" || key === "ArrowDown") && plain && collapsed) {
      const up = key === "ArrowUp";
      const onEdge = up ? lineTop(start) === lineTop(0) : lineTop(start) === lineTop(text.length);
      if (!onEdge) return;
      const target = order[order.indexOf(id) + (up ? -1 : 1)];
      if (!target) return;
      event.preventDefault();
      const col = column(start);
      const length = (client.text(target) ?? "").length;
      startEditing(target, up ? length : 0);
      if (editing?.id === target) {
        // Keep the column: on the last line of the bullet above, the first line of the one below.
        let at;
        if (up) {
          at = length - column(length) + col;
        } else {
          const top = lineTop(0);
          at = Math.min(length, col);
          while (at > 0 && lineTop(at) !== top) at--;
        }
        at = Math.min(length, at);
        editing.textarea.setSelectionRange(at, at);
        reportCaret();
      }
    } else if ((key === "ArrowLeft" && start === 0) || (key === "ArrowRight" && start === text.length)) {
      if (!plain || !collapsed) return;
      const left = key === "ArrowLeft";
      const target = order[order.indexOf(id) + (left ? -1 : 1)];
      if (!target) return;
      event.preventDefault();
      startEditing(target, left ? null : 0);
    } else if (key === "Escape") {
      event.preventDefault();
      stopEditing({ focus: true });
    }
  }

  function onPaste(event) {
    const ed = editing;
    const raw = event.clipboardData?.getData("text/plain");
    if (!ed || !raw || !/[\r\n]/.test(raw)) return; // one line: the textarea pastes it
    event.preventDefault();
    const lines = pastedLines(raw);
    if (lines.length === 0) return;
    const ta = ed.textarea;
    if (lines.length === 1) {
      ta.setRangeText(lines[0], ta.selectionStart, ta.selectionEnd, "end");
      onInput();
      return;
    }
    const id = ed.id;
    const text = ta.value;
    const head = text.slice(0, ta.selectionStart), tail = text.slice(ta.selectionEnd);
    let focus = null;
    let caret = 0;
    act(() => {
      let ids;
      if (head === "" && tail === "") {
        ids = client.pasteLines(id, lines);
        client.remove(id);
      } else if (head.length + lines[0].length <= MAX_TEXT && lines[lines.length - 1].length + tail.length <= MAX_TEXT) {
        // As if typed: the first line at the caret, the others as bullets below, the rest of this text after the last.
        const rest = lines.slice(1);
        client.setText(id, head + lines[0] + (rest.length ? "" : tail));
        if (rest.length) {
          rest[rest.length - 1] += tail;
          ids = client.pasteLines(id, rest);
        } else {
          ids = [id];
        }
      } else {
        ids = client.pasteLines(id, lines);
      }
      focus = ids[ids.length - 1];
      caret = (client.text(focus) ?? "").length - (head === "" && tail === "" ? 0 : tail.length);
    });
    if (focus) startEditing(focus, Math.max(0, caret));
  }

  function flash(li) {
    li.classList.remove("refused");
    void li.offsetWidth;
    li.classList.add("refused");
  }

  // MARK: Carets out

  let caretTimer = null;
  let caretDue = false;

  function reportCaret() {
    if (!canEdit) return;
    caretDue = true;
    if (caretTimer) return;
    sendCaret();
    caretTimer = setTimeout(() => {
      caretTimer = null;
      if (caretDue) reportCaret();
    }, 120);
  }

  function sendCaret() {
    caretDue = false;
    if (!editing) {
      if (client.caret) client.setCaret(null);
      return;
    }
    const ta = editing.textarea;
    const offset = ta.selectionDirection === "backward" ? ta.selectionStart : ta.selectionEnd;
    if (client.caret?.bullet !== editing.id || client.caret?.offset !== offset) client.setCaret(editing.id, offset);
  }

  document.addEventListener("selectionchange", () => {
    if (editing && document.activeElement === editing.textarea) reportCaret();
  });

  // MARK: Page events

  body.addEventListener("click", (event) => {
    if (!canEdit || !loaded) return;
    const add = event.target.closest("button.add-bullet");
    if (add) {
      const id = act(() => client.createBullet({ parent: add.dataset.addTo }));
      startEditing(id, 0);
      return;
    }
    if (event.target.closest("a")) return; // links open
    const span = event.target.closest(".text");
    const li = span?.closest("li[data-bullet]");
    if (!li || !bulletEls.has(li.dataset.bullet)) return;
    const selection = document.getSelection();
    if (selection && !selection.isCollapsed && span.contains(selection.anchorNode)) return; // selecting to copy
    startEditing(li.dataset.bullet, offsetAtPoint(span, event.clientX, event.clientY));
  });

  body.addEventListener("keydown", (event) => {
    if (!canEdit || !loaded || editing?.textarea === event.target) return;
    const span = event.target.closest?.(".text");
    const li = span?.closest("li[data-bullet]");
    if (!li || event.target !== span) return;
    const id = li.dataset.bullet;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !event.altKey && (event.key === "z" || event.key === "Z" || (event.key === "y" && event.ctrlKey && !event.shiftKey))) {
      event.preventDefault();
      history(event.shiftKey || event.key === "y");
    } else if ((event.key === "Enter" || event.key === "F2") && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      startEditing(id);
    } else if ((event.key === "ArrowUp" || event.key === "ArrowDown") && !event.ctrlKey && !event.metaKey && !event.altKey && !event.shiftKey) {
      const target = order[order.indexOf(id) + (event.key === "ArrowUp" ? -1 : 1)];
      if (target) {
        event.preventDefault();
        focusSpan(target);
      }
    }
  });

  /** The text offset under a point in a bullet's span (caret marks not counted). */
  function offsetAtPoint(span, x, y) {
    let node, off;
    if (document.caretPositionFromPoint) {
      const pos = document.caretPositionFromPoint(x, y);
      if (pos) { node = pos.offsetNode; off = pos.offset; }
    } else if (document.caretRangeFromPoint) {
      const range = document.caretRangeFromPoint(x, y);
      if (range) { node = range.startContainer; off = range.startOffset; }
    }
    if (!node || !span.contains(node)) return null;
    const mark = node.nodeType === 1 ? node.closest(".remote-caret") : node.parentElement?.closest(".remote-caret");
    if (mark) { node = mark.parentNode; off = [...node.childNodes].indexOf(mark); }
    const range = document.createRange();
    range.setStart(span, 0);
    range.setEnd(node, off);
    let n = 0;
    const walker = document.createTreeWalker(span, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      if (t.parentElement.closest(".remote-caret")) continue;
      if (t === node) return n + off;
      if (range.comparePoint(t, t.length) !== 0) break;
      n += t.length;
    }
    return n;
  }

  // MARK: Status

  let statusTimer = null;

  function updateStatus() {
    const n = client.pending;
    const offline = !client.online || !client.ready;
    if (n === 0) {
      clearTimeout(statusTimer);
      statusTimer = null;
      status.textContent = "";
      return;
    }
    if (offline) {
      status.textContent = `${pendingText(n)} — they are sent when the connection is back`;
      return;
    }
    // Online, changes are confirmed within moments: only say so when it takes a while.
    if (status.textContent) status.textContent = pendingText(n);
    if (!statusTimer) {
      statusTimer = setTimeout(() => {
        statusTimer = null;
        status.textContent = pendingText(client.pending);
        if (client.pending) updateStatus();
      }, 1500);
    }
  }

  /** A message about the notes for a few seconds (created on demand, like the board's). */
  function showNotice(message) {
    let notice = root.querySelector(".notes-notice");
    if (!notice) {
      notice = document.createElement("p");
      notice.className = "notice notes-notice";
      notice.setAttribute("role", "alert");
      body.before(notice);
    }
    notice.textContent = message;
    clearTimeout(showNotice.timer);
    showNotice.timer = setTimeout(() => notice.remove(), 8000);
  }

  function becomeReadOnly() {
    canEdit = false;
    root.dataset.canEdit = "false";
    root.classList.remove("editable");
    help.remove();
    stopEditing({ focus: false });
    for (const entry of bulletEls.values()) setSpanEditable(entry);
    for (const entry of sectionEls.values()) entry.add.hidden = true;
  }

  // MARK: Connection hooks

  const NOTES_FRAMES = new Set(["notesSnapshot", "notes", "notesReady", "notesAck", "resync", "carets"]);

  return {
    client,
    connected() {
      client.connected();
      updateStatus();
    },
    disconnected() {
      client.disconnected();
      // Where the others are is unknown until the next carets frame.
      const before = new Set(carets.map((c) => c.bullet));
      carets = [];
      if (loaded) showCarets(before);
      updateStatus();
    },
    /** Handles a frame that was not for the board; true when it was the notes'. */
    handle(frame) {
      if (NOTES_FRAMES.has(frame?.type)) {
        client.handle(frame);
        updateStatus();
        return true;
      }
      if (frame?.type === "error") {
        const ours = typeof frame.id === "string" && /^n\d+$/.test(frame.id);
        client.handle(frame);
        updateStatus();
        return ours;
      }
      return false;
    },
    setTopics,
  };
}
