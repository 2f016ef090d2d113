// Live behaviour of the meeting page: board frames re-render #board, forms marked data-command
// go over the WebSocket (or the JSON API while it is down), and the countdown ticks locally
// against the server's clock. The notes outliner (notes.js) shares the same socket.
import { formatRemaining, renderBoard } from "./board-render.js";
import { LiveConnection } from "./live.js";
import { startNotes } from "./notes.js";

const meeting = document.getElementById("meeting");
const boardElement = document.getElementById("board");
const status = document.getElementById("connection");

if (meeting && boardElement) {
  const commands = meeting.dataset.commands;
  const livePath = meeting.dataset.live;
  const apiCommands = livePath.replace(/\/live$/, "/commands");
  let skew = 0; // server clock minus ours, in ms
  let lastFrame = null;

  const now = () => Date.now() + skew;

  const notesElement = document.getElementById("notes");
  const notes = notesElement ? startNotes(notesElement, { send: (frame) => live.sendFrame(frame) }) : null;

  const showState = (state) => {
    const text = { connecting: "Connecting…", live: "", offline: "Offline: reconnecting… (your actions are sent over HTTP meanwhile)", reconnecting: "Reconnecting…" }[state];
    status.textContent = text;
    status.dataset.state = state;
  };

  const showError = (message) => {
    let notice = meeting.querySelector(".notice.live");
    if (!notice) {
      notice = document.createElement("p");
      notice.className = "notice live";
      notice.setAttribute("role", "alert");
      meeting.insertBefore(notice, boardElement);
    }
    notice.textContent = message;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => notice.remove(), 8000);
  };

  const render = (frame) => {
    lastFrame = frame;
    skew = frame.serverNow - Date.now();
    notes?.setTopics(frame.board.topics);
    // Keep what someone is typing inside the board (e.g. a skip reason) across re-renders.
    const active = document.activeElement;
    const kept = active && boardElement.contains(active) && active.name
      ? { name: active.name, value: active.value, type: active.closest("form")?.querySelector("[name=type]")?.value } : null;
    boardElement.innerHTML = renderBoard(frame, { commands, now: now() });
    if (kept) {
      const again = [...boardElement.querySelectorAll(`[name="${CSS.escape(kept.name)}"]`)]
        .find((el) => el.closest("form")?.querySelector("[name=type]")?.value === kept.type);
      if (again) {
        if ("value" in again && again.type !== "hidden") again.value = kept.value;
        again.focus();
      }
    }
  };

  const tick = () => {
    const clock = lastFrame?.board.clock;
    const countdown = boardElement.querySelector(".countdown");
    if (clock && countdown) countdown.textContent = formatRemaining(clock.deadline - now());
  };
  setInterval(tick, 250);

  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const live = new LiveConnection(`${scheme}//${location.host}${livePath}`, {
    onBoard: render,
    onState: showState,
    onError: showError,
    onOpen: () => notes?.connected(),
    onClose: () => notes?.disconnected(),
    onFrame: (frame) => notes?.handle(frame) ?? false,
  });
  // A test aid: end-to-end tests set window.__hourglassTest before the page loads to reach the socket.
  if (globalThis.__hourglassTest) Object.assign(globalThis, { __hourglassLive: live, __hourglassNotes: notes });
  live.connect();

  const sendOverHTTP = async (fields) => {
    const response = await fetch(apiCommands, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(fields),
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail ?? `The server answered ${response.status}`);
    if (body.type === "board") render(body);
  };

  meeting.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-command]");
    if (!form) return;
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form).entries());
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      if (live.isOpen) await live.send(fields);
      else await sendOverHTTP(fields);
      if (form.hasAttribute("data-reset")) {
        form.querySelectorAll("input:not([type=hidden]), textarea").forEach((el) => { el.value = ""; });
      }
    } catch (error) {
      showError(error.message); // the form keeps what was typed
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  });
}
