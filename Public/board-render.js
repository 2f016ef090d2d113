// Renders a live board frame as HTML: the same markup the server renders in MeetingPage.swift,
// so a page looks the same before and after the first live update. Pure: no DOM, testable in node.

/** Escapes text for HTML element and attribute content. */
/** "[tag] Title (Proposer)", leaving out what an imported topic may lack; the same as Page.topicLabel in Swift. */
export function topicLabel(topic) {
  return (topic.tag ? `<span class="tag">[${escapeHTML(topic.tag)}]</span> ` : "") + escapeHTML(topic.title) +
    (topic.proposerName ? ` <span class="proposer">(${escapeHTML(topic.proposerName)})</span>` : "");
}

export function escapeHTML(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** "m:ss" for a number of milliseconds left (never negative, rounded up to the second). */
export function formatRemaining(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

const thumbs = [
  ["up", "👍 More"],
  ["sideways", "👉 Either"],
  ["down", "👎 Next"],
];

function command(commands, type, label, { topic, extra = {}, style = "", aria } = {}) {
  const inputs = Object.keys(extra).sort()
    .map((k) => `<input type="hidden" name="${escapeHTML(k)}" value="${escapeHTML(extra[k])}">`).join("");
  const topicInput = topic ? `<input type="hidden" name="topicId" value="${escapeHTML(topic.toLowerCase())}">` : "";
  return `<form method="post" action="${escapeHTML(commands)}" class="inline" data-command>` +
    `<input type="hidden" name="type" value="${escapeHTML(type)}">${topicInput}${inputs}` +
    `<button type="submit" class="${escapeHTML(style)}"${aria ? ` aria-label="${escapeHTML(aria)}"` : ""}>${escapeHTML(label)}</button></form>`;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function topicItem(topic, ctx) {
  const { me, meeting, clock, commands } = ctx;
  const mine = me.votes?.[topic.id] ?? 0;
  const open = meeting.status === "upcoming" || meeting.status === "live";
  const history = (topic.voteHistory ?? []).map((h) => `<li>${escapeHTML(plural(h.votes, "vote"))} on ${escapeHTML(h.meetingDate)}</li>`).join("");
  let duration = "";
  if (topic.discussedSeconds != null) {
    const ext = topic.extensionsUsed > 0
      ? ` (${topic.timeBoxMinutes ?? 0} + ${plural(topic.extensionsUsed, "extension")})` : "";
    duration = `<span class="duration">discussed ${Math.floor(topic.discussedSeconds / 60)} min${escapeHTML(ext)}</span>`;
  }
  let actions = "";
  if (topic.status === "queued" && me.canParticipate && open) {
    actions = `<div class="vote">` +
      (mine > 0 ? `<span class="mine">yours: ${mine}</span>` : "") +
      (mine > 0 ? command(commands, "unvote", "−", { topic: topic.id, aria: `Take back a vote from ${topic.title}` }) : "") +
      command(commands, "vote", "+", { topic: topic.id, aria: `Vote for ${topic.title}` }) +
      (me.canFacilitate && !clock ? command(commands, "startTopic", "Start", { topic: topic.id, aria: `Start ${topic.title}` }) : "") +
      `</div>`;
  }
  return `<li class="topic ${escapeHTML(topic.status)}" id="topic-${escapeHTML(topic.id.toLowerCase())}">` +
    `<span class="votes" aria-label="${topic.votes} votes">${topic.votes}</span>` +
    `<div class="body"><p class="title">${topicLabel(topic)}</p>` +
    (topic.description ? `<p class="description">${escapeHTML(topic.description)}</p>` : "") +
    (history ? `<ul class="history" aria-label="Carried over">${history}</ul>` : "") +
    duration + `</div>` + actions + `</li>`;
}

/**
 * The inner HTML of `#board` for a frame `{board, me}`.
 * @param {object} frame a "board" frame from the server
 * @param {{commands: string, now: number}} options form action and the corrected current time (ms)
 */
export function renderBoard(frame, { commands, now }) {
  const { board, me } = frame;
  const { meeting, settings, clock } = board;
  const ctx = { me, meeting, clock, commands };
  const open = meeting.status === "upcoming" || meeting.status === "live";
  const byStatus = (s) => board.topics.filter((t) => t.status === s);
  const agenda = byStatus("queued");
  const discussed = byStatus("done");
  const carried = byStatus("carriedOver");

  const who = me.canParticipate
    ? `You have ${me.votesLeft} of ${settings.votesPerParticipant} votes left`
    : me.signedIn ? "Read only" : "Sign in to propose and vote";
  let html = `<p class="meeting-status"><span class="status ${escapeHTML(meeting.status)}">${escapeHTML(meeting.status)}</span>` +
    (meeting.skipReason ? ` <span class="skip-reason">${escapeHTML(meeting.skipReason)}</span>` : "") +
    ` · ${escapeHTML(who)}</p>`;

  const current = clock && board.topics.find((t) => t.id === clock.topicId);
  if (clock && current) {
    const revote = clock.phase === "revote";
    html += `<section id="clock" class="clock ${escapeHTML(clock.phase)}" data-deadline="${clock.deadline}" aria-labelledby="clock-title">` +
      `<h2 id="clock-title">${revote ? "Time is up: keep going?" : "Discussing"}</h2>` +
      `<p class="current">${topicLabel(current)}</p>` +
      `<p class="remaining"><time class="countdown" aria-live="off">${formatRemaining(clock.deadline - now)}</time> left${revote ? " to re-vote" : ""}</p>`;
    if (revote) {
      const t = clock.tally;
      html += `<p class="tally">👍 ${t.up} · 👉 ${t.sideways} · 👎 ${t.down}` +
        (clock.nextExtensionMinutes != null ? ` — a majority of 👍 adds ${clock.nextExtensionMinutes} min` : "") + `</p>`;
      if (me.canParticipate) {
        html += `<div class="thumbs">` + thumbs.map(([thumb, label]) =>
          command(commands, "revote", label, { extra: { thumb }, style: me.thumb === thumb ? "chosen" : "", aria: `Re-vote ${thumb}` })).join("") + `</div>`;
      }
    }
    if (me.canFacilitate) {
      html += `<div class="facilitate">` + (revote ? command(commands, "closeRevote", "Count the re-vote now") : "") +
        command(commands, "extend", "Extend by hand") + command(commands, "endTopic", "End topic") + `</div>`;
    }
    html += `</section>`;
  }

  if (me.canFacilitate && open) {
    html += `<div class="facilitate">` +
      (meeting.status === "upcoming" ? command(commands, "startMeeting", "Start meeting") : "") +
      (!clock && agenda.length > 0 ? command(commands, "startTopic", "Start next topic", { extra: { topicId: "" }, style: "primary" }) : "") +
      command(commands, "endMeeting", "End meeting") +
      (meeting.status === "upcoming"
        ? `<form method="post" action="${escapeHTML(commands)}" class="inline" data-command><input type="hidden" name="type" value="skip">` +
          `<label>Reason <input name="reason" required maxlength="500" placeholder="Low attendance"></label> <button type="submit">Skip meeting</button></form>`
        : "") +
      `</div>`;
  }

  const list = (topics) => `<ol class="topics">${topics.map((t) => topicItem(t, ctx)).join("")}</ol>`;
  html += `<section class="agenda" aria-labelledby="agenda-title"><h2 id="agenda-title">Agenda</h2>` +
    (agenda.length ? list(agenda) : `<p class="muted empty">No topics yet.</p>`) + `</section>`;
  if (discussed.length) {
    html += `<section class="discussed" aria-labelledby="discussed-title"><h2 id="discussed-title">Discussed</h2>${list(discussed)}</section>`;
  }
  if (carried.length) {
    html += `<section class="carried" aria-labelledby="carried-title"><h2 id="carried-title">Carried over to the next meeting</h2>${list(carried)}</section>`;
  }
  html += `<aside class="presence" aria-label="Here now"><h2>Here now</h2><ul>` +
    board.present.map((p) => `<li>${escapeHTML(p.name)}</li>`).join("") + `</ul></aside>`;
  return html;
}
