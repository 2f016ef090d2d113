// A reconnecting WebSocket for one meeting: board frames in, commands out, with replies matched
// to their commands. Other frames (the notes, carets) go to `onFrame`, and `sendFrame` sends any
// frame, so the board and the notes share the page's one socket. Pure of the DOM so it can be
// tested in node with any WebSocket class.

/** Delay before reconnect attempt `n` (0-based): 0.5 s doubling to 10 s, with jitter. */
export function backoff(n, random = Math.random) {
  const base = Math.min(10_000, 500 * 2 ** n);
  return Math.round(base * (0.75 + random() * 0.5));
}

export class LiveConnection {
  /**
   * @param {string} url ws:// or wss:// URL of the meeting
   * @param {{onBoard: Function, onState: Function, onError?: Function, onFrame?: Function, onOpen?: Function,
   *   onClose?: Function, WebSocket?: Function, setTimeout?: Function}} hooks
   *   onFrame(frame) gets every frame that is not a board or a reply to a command, and returns
   *   true when it handled it (an unhandled error frame goes to onError); onOpen runs once the
   *   socket is open (after onState("live")), onClose whenever it closed.
   */
  constructor(url, hooks) {
    this.url = url;
    this.hooks = hooks;
    this.WS = hooks.WebSocket ?? globalThis.WebSocket;
    this.timer = hooks.setTimeout ?? globalThis.setTimeout.bind(globalThis);
    this.pending = new Map();
    this.nextId = 1;
    this.attempt = 0;
    this.lastSeq = -1;
    this.closed = false;
  }

  get isOpen() {
    return this.socket?.readyState === 1;
  }

  connect() {
    this.hooks.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    const socket = new this.WS(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.hooks.onState("live");
      this.hooks.onOpen?.();
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = () => {
      for (const [, waiter] of this.pending) waiter.reject(new Error("The connection dropped; please try again"));
      this.pending.clear();
      this.hooks.onClose?.();
      if (this.closed) return;
      this.hooks.onState("offline");
      this.timer(() => this.connect(), backoff(this.attempt++));
    };
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "board") {
      // Frames arrive in order on one socket; after a reconnect the first frame is a full board anyway.
      if (frame.board.seq >= this.lastSeq || frame.board.meeting.id !== this.meetingId) {
        this.lastSeq = frame.board.seq;
        this.meetingId = frame.board.meeting.id;
        this.hooks.onBoard(frame);
      }
    } else if ((frame.type === "ack" || frame.type === "error") && this.pending.has(frame.id)) {
      const waiter = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      if (frame.type === "ack") waiter.resolve(frame);
      else waiter.reject(Object.assign(new Error(frame.message), { code: frame.code }));
    } else if (this.hooks.onFrame?.(frame) !== true && frame.type === "error") {
      this.hooks.onError?.(frame.message);
    }
  }

  /** Sends any frame object as JSON; false (and nothing sent) when the socket is not open. */
  sendFrame(frame) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a command; resolves on ack, rejects with the server's message. */
  send(command) {
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ type: "command", id, command }));
    });
  }

  close() {
    this.closed = true;
    this.socket?.close();
  }
}
