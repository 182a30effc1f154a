// Small DOM and formatting helpers (no framework: the page is a handful of panels).
//
// Every time a person reads is shown in the utility's time zone (GET /v1/storm says which),
// 24-hour — never the browser's zone, never AM/PM. The API itself speaks UTC ISO 8601.

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
/** 1,234 — and a dash for anything that is not a finite number (never "NaN"). */
export const fmtInt = (n) => (typeof n === "number" && Number.isFinite(n) ? number.format(n) : "–");

// -- the utility's time zone ------------------------------------------------------------------

let zone = "Asia/Shanghai";
let formats = makeFormats(zone);

function makeFormats(name) {
  const base = { timeZone: name, hourCycle: "h23" };
  return {
    time: new Intl.DateTimeFormat("en-GB", { ...base, hour: "2-digit", minute: "2-digit" }),
    day: new Intl.DateTimeFormat("en-GB", { timeZone: name, day: "numeric", month: "short" }),
    key: new Intl.DateTimeFormat("en-CA", { timeZone: name, year: "numeric", month: "2-digit", day: "2-digit" }),
    parts: new Intl.DateTimeFormat("en-GB", {
      ...base, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    }),
    abbr: new Intl.DateTimeFormat("en-GB", { timeZone: name, timeZoneName: "short" }),
  };
}

/** Use ``name`` (an IANA zone) for every time shown from now on; false if it is unknown. */
export function setZone(name) {
  if (!name || name === zone) return true;
  try {
    formats = makeFormats(name);
    zone = name;
    return true;
  } catch {
    return false;
  }
}

export const zoneName = () => zone;

/** "GMT+8" or "CST": the zone's short name at ``iso`` (for labels). */
export function zoneAbbr(iso) {
  const part = formats.abbr.formatToParts(iso ? new Date(iso) : new Date()).find((p) => p.type === "timeZoneName");
  return part ? part.value : zone;
}

/** "14:05" in the utility's zone, with the date ("2 Dec 14:05") when it is not the engine's day. */
export function fmtTime(iso, engineIso) {
  if (!iso) return "–";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "–";
  const time = formats.time.format(at);
  const today = formats.key.format(engineIso ? new Date(engineIso) : new Date());
  return formats.key.format(at) === today ? time : `${formats.day.format(at)} ${time}`;
}

/** "14:05", always without the date (chart axes). */
export const fmtClock = (iso) => formats.time.format(new Date(iso));

/** "1 h 20 min" between two ISO times (engine time, never the browser clock). */
export function fmtAge(fromIso, toIso) {
  if (!fromIso || !toIso) return "";
  const minutes = Math.max(0, Math.round((new Date(toIso) - new Date(fromIso)) / 60000));
  if (!Number.isFinite(minutes)) return "";
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function zoneParts(date) {
  const p = Object.fromEntries(formats.parts.formatToParts(date).map((x) => [x.type, x.value]));
  return { y: +p.year, mo: +p.month, d: +p.day, h: +p.hour % 24, mi: +p.minute, s: +p.second };
}

function offsetMs(date) {
  const p = zoneParts(date);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(date.getTime() / 1000) * 1000;
}

/** ISO -> a datetime-local input's value ("YYYY-MM-DDTHH:MM") in the utility's zone. */
export function zoneInput(iso) {
  const p = zoneParts(new Date(iso));
  const two = (n) => String(n).padStart(2, "0");
  return `${p.y}-${two(p.mo)}-${two(p.d)}T${two(p.h)}:${two(p.mi)}`;
}

/** A datetime-local value read in the utility's zone -> ISO UTC (null when empty). */
export function isoFromZoneInput(value) {
  if (!value) return null;
  const [day, time] = value.split("T");
  const [y, mo, d] = day.split("-").map(Number);
  const [hh, mi] = time.split(":").map(Number);
  const guess = Date.UTC(y, mo - 1, d, hh, mi);
  let at = guess - offsetMs(new Date(guess));
  const again = guess - offsetMs(new Date(at)); // across a DST change the offset differs
  if (again !== at) at = again;
  return new Date(at).toISOString().replace(".000Z", "Z");
}

// -- messages ---------------------------------------------------------------------------------

const MAX_TOASTS = 3;

/** A short message for the officer in the map's corner; it expires (errors stay longer), and
 * no more than three are shown: a burst of them must not cover the board. */
export function toast(message, kind = "info") {
  const box = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  const close = () => box.remove();
  box.addEventListener("click", close);
  const shelf = document.getElementById("toasts");
  shelf.append(box);
  while (shelf.children.length > MAX_TOASTS) shelf.firstElementChild.remove();
  setTimeout(close, kind === "error" ? 10000 : 4000);
  return box;
}

/** Ask before an action that cannot be taken back; resolves true when the officer confirms.
 * An in-page dialog (not window.confirm): it names what is at stake and stays on the page. */
export function ask({ title, lines = [], confirm = "Confirm", cancel = "Keep as is", danger = false }) {
  const dialog = $("#ask");
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      resolve(answer);
    };
    dialog.replaceChildren(
      h("form", { method: "dialog", class: "card" },
        h("h2", {}, title),
        ...lines.map((line) => h("p", { class: line.warn ? "warn" : null }, line.text ?? line)),
        h("div", { class: "row end" },
          h("button", { type: "button", class: "secondary", id: "ask-cancel", onclick: () => done(false) }, cancel),
          h("button", { type: "button", class: danger ? "danger" : null, id: "ask-confirm", onclick: () => done(true) }, confirm),
        ),
      ),
    );
    dialog.oncancel = () => resolve(false);
    dialog.showModal();
    $("#ask-cancel", dialog).focus();
  });
}
