// Keeps the comments of an open page live: every few seconds, while the page is visible, the
// server-rendered comments part is fetched again (the element's data-refresh URL) and swapped in
// when its version changed. Nothing is swapped while someone is writing in one of its forms.

const REFRESH_MS = 4000;

function writing(root) {
  return [...root.querySelectorAll("textarea")].some((t) => t === document.activeElement || t.value.trim() !== "" && t.defaultValue !== t.value);
}

async function refresh(root) {
  if (document.visibilityState === "hidden" || writing(root)) return;
  try {
    const response = await fetch(root.dataset.refresh, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const template = document.createElement("template");
    template.innerHTML = await response.text();
    const fresh = template.content.querySelector("[data-version]");
    const current = root.querySelector("[data-version]");
    if (!fresh || !current || fresh.dataset.version === current.dataset.version || writing(root)) return;
    current.replaceWith(fresh);
  } catch {
    // Offline: try again later.
  }
}

for (const root of document.querySelectorAll("[data-refresh]")) {
  setInterval(() => refresh(root), REFRESH_MS);
  document.addEventListener("visibilitychange", () => refresh(root));
}
