// Calls per bucket (bars) against the time-of-day baseline (dashed), in event time.
// Hand-drawn SVG: two series do not need a charting library.
//
// The service's buckets are aligned to the clock (10:00, 10:05, ...), so a refresh redraws
// the same bars; each bar carries data-start and data-calls. The y axis has round ticks; the
// time labels are in the utility's zone. The SVG is drawn at its own pixel size, so text is
// never stretched.

import { fmtClock } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const LEFT = 34; // room for the y labels
const BOTTOM = 14; // room for the time labels
const TOP = 6;

export function drawCallRate(svg, body) {
  const W = Math.max(200, Math.round(svg.clientWidth || 400));
  const H = Math.max(80, Math.round(svg.clientHeight || 130));
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const buckets = body.buckets || [];
  const peak = Math.max(0, ...buckets.map((b) => b.calls));
  const step = niceStep(Math.max(1, peak, ...buckets.map((b) => b.baseline)) / 4);
  const top = Math.max(step * 4, Math.ceil(Math.max(1, peak) / step) * step);
  const plotH = H - BOTTOM - TOP;
  const bw = (W - LEFT) / Math.max(1, buckets.length);
  const y = (v) => TOP + plotH * (1 - v / top);
  const nodes = [];
  for (let v = 0; v <= top + 1e-9; v += step) {
    nodes.push(el("line", { x1: LEFT, x2: W, y1: y(v), y2: y(v), class: v ? "grid" : "grid zero" }));
    nodes.push(text(LEFT - 4, y(v) + 3, String(v), "axis y"));
  }
  buckets.forEach((b, i) => {
    if (!b.calls) return;
    const over = b.calls > b.baseline * 3 && b.calls > 3;
    const rect = el("rect", {
      x: LEFT + i * bw + 0.5, y: y(b.calls), width: Math.max(1, bw - 1), height: TOP + plotH - y(b.calls),
      class: `bar${over ? " surge" : ""}${b.complete === false ? " filling" : ""}`,
    });
    rect.dataset.calls = b.calls;
    rect.dataset.start = b.start;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${fmtClock(b.start)}: ${b.calls} calls (normal ${b.baseline})${b.complete === false ? " — still filling" : ""}`;
    rect.append(title);
    nodes.push(rect);
  });
  const line = el("polyline", {
    points: buckets.map((b, i) => `${LEFT + (i + 0.5) * bw},${y(b.baseline)}`).join(" "),
    class: "baseline",
  });
  nodes.push(line);
  // A time label on each whole hour (every other hour when they would crowd).
  const minutes = body.bucket_minutes || 5;
  const hourly = buckets.map((b, i) => [b, i]).filter(([b]) => b.start.slice(14, 16) === "00");
  const every = Math.max(1, Math.ceil((hourly.length * 36) / (W - LEFT)));
  hourly.forEach(([b, i], n) => {
    if (n % every) return;
    nodes.push(el("line", { x1: LEFT + i * bw, x2: LEFT + i * bw, y1: TOP + plotH, y2: TOP + plotH + 3, class: "tick" }));
    nodes.push(text(LEFT + i * bw, H - 2, fmtClock(b.start), "axis x"));
  });
  nodes.push(text(LEFT + 4, TOP + 9, `peak ${peak} per ${minutes} min`, "axis peak"));
  svg.replaceChildren(...nodes);
  svg.dataset.peak = String(peak);
}

/** 1, 2, 5, 10, 20, 50, ... : the round step just above ``raw``. */
function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function el(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function text(x, y, content, cls) {
  const node = el("text", { x, y, class: cls });
  node.textContent = content;
  return node;
}

/** The window to ask for: at least six hours, and far enough back to hold the storm's start
 * (capped at three days); wider windows get wider buckets so bars stay readable. */
export function chartWindow(engineTime, began) {
  const now = engineTime ? Date.parse(engineTime) : Date.now();
  const since = began ? (now - began) / 3.6e6 + 1 : 0;
  const hours = Math.min(72, Math.max(6, Math.ceil(since)));
  const bucket = hours <= 8 ? 5 : hours <= 16 ? 10 : hours <= 30 ? 15 : 30;
  return { hours, bucket };
}
