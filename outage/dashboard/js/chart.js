// Calls per bucket (bars) against the time-of-day baseline (line), in event time.
// Hand-drawn SVG: two series do not need a charting library.

const SVG = "http://www.w3.org/2000/svg";
const W = 400;
const H = 120;
const AXIS = 14; // room for the time labels

export function drawCallRate(svg, body) {
  const buckets = body.buckets || [];
  const top = Math.max(1, ...buckets.map((b) => Math.max(b.calls, b.baseline))) * 1.1;
  const bw = W / Math.max(1, buckets.length);
  const y = (v) => (H - AXIS) * (1 - v / top);
  const nodes = [];
  buckets.forEach((b, i) => {
    if (!b.calls) return;
    const rect = document.createElementNS(SVG, "rect");
    const over = b.calls > b.baseline * 3 && b.calls > 3;
    Object.entries({ x: i * bw + 0.5, y: y(b.calls), width: Math.max(1, bw - 1), height: H - AXIS - y(b.calls) })
      .forEach(([k, v]) => rect.setAttribute(k, v));
    rect.setAttribute("class", over ? "bar surge" : "bar");
    rect.dataset.calls = b.calls;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${b.calls} calls (baseline ${b.baseline})`;
    rect.append(title);
    nodes.push(rect);
  });
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", buckets.map((b, i) => `${(i + 0.5) * bw},${y(b.baseline)}`).join(" "));
  line.setAttribute("class", "baseline");
  nodes.push(line);
  // A time label every hour-ish, and the peak value at the top left.
  const every = Math.max(1, Math.round(60 / (body.bucket_minutes || 5)));
  buckets.forEach((b, i) => {
    if (i % every) return;
    nodes.push(text(i * bw + 2, H - 2, new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
  });
  nodes.push(text(2, 10, `peak ${Math.max(0, ...buckets.map((b) => b.calls))}`));
  svg.replaceChildren(...nodes);
}

function text(x, y, content) {
  const node = document.createElementNS(SVG, "text");
  node.setAttribute("x", x);
  node.setAttribute("y", y);
  node.setAttribute("class", "axis");
  node.textContent = content;
  return node;
}
