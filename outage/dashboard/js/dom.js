// Small DOM and formatting helpers (no framework: the page is a handful of panels).

/** h("tr", {class: "x", dataset: {id}}, child, "text") -> element */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

const number = new Intl.NumberFormat("en");
export const fmtInt = (n) => (n === null || n === undefined ? "–" : number.format(n));

/** "14:05" in the browser's zone, with the date when it is not the engine's day. */
export function fmtTime(iso, engineIso) {
  if (!iso) return "–";
  const at = new Date(iso);
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const day = engineIso ? new Date(engineIso).toDateString() : new Date().toDateString();
  return at.toDateString() === day ? time : `${at.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

/** "1 h 20 min" between two ISO times (engine time, never the browser clock). */
export function fmtAge(fromIso, toIso) {
  if (!fromIso || !toIso) return "";
  const minutes = Math.max(0, Math.round((new Date(toIso) - new Date(fromIso)) / 60000));
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A message for the officer (errors stay until clicked). */
export function toast(message, kind = "info") {
  const box = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.addEventListener("click", () => box.remove());
  document.getElementById("toasts").append(box);
  if (kind !== "error") setTimeout(() => box.remove(), 4000);
}
