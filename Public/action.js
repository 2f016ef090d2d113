// Action items in notes bullets: the same rules as ActionItem in Sources/HourglassCore/Archive/ActionItem.swift.
// A bullet is an open action item when it starts with [todo], ACTION: or [action], and a done one
// when it starts with [done] (case-insensitive, after leading spaces).

export const OPEN_MARKERS = ["[todo]", "action:", "[action]"];
export const DONE_MARKERS = ["[done]"];

/** "open", "done" or null. */
export function actionStatus(text) {
  const lower = text.trimStart().toLowerCase();
  if (OPEN_MARKERS.some((m) => lower.startsWith(m))) return "open";
  if (DONE_MARKERS.some((m) => lower.startsWith(m))) return "done";
  return null;
}

/** Plain → "[todo] …", open → "[done] …", done → plain (Ctrl/Cmd+Enter in the editor). */
export function toggleAction(text) {
  const lower = text.toLowerCase();
  for (const marker of OPEN_MARKERS) {
    if (lower.startsWith(marker)) return "[done] " + text.slice(marker.length).trim();
  }
  for (const marker of DONE_MARKERS) {
    if (lower.startsWith(marker)) return text.slice(marker.length).trim();
  }
  return "[todo] " + text;
}
