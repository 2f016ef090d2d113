// The unread count next to "Inbox" in the header, kept fresh while the page is open: asked for
// when the page loads, every 10 seconds while it is visible, and whenever it becomes visible again.

const badge = document.querySelector("#inbox-link [data-unread]");

async function refresh() {
  if (!badge || document.visibilityState === "hidden") return;
  try {
    const response = await fetch("/api/inbox/unread", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const { unread } = await response.json();
    badge.textContent = unread > 99 ? "99+" : String(unread);
    badge.hidden = !(unread > 0);
    badge.setAttribute("aria-label", `${unread} unread`);
  } catch {
    // Offline: keep the last count.
  }
}

if (badge) {
  refresh();
  setInterval(refresh, 10_000);
  document.addEventListener("visibilitychange", refresh);
}
