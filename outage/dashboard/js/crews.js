// Crews on the map: one marker per crew where it last said it was (or at its depot), its
// shape and colour by status — a triangle while it travels (dispatched, en route), a diamond
// at the site (on site, repairing), a hollow triangle when it has no order (available, off
// shift). A crew working an order gets its name beside it (on the left: an outage's label is
// on its right), placed by the map with its other labels so that none hides another. A crew
// at the site sits up and left of the outage's own marker, so that both show. Markers keep
// their size on screen (the map sets --px, SVG units per screen pixel); a click on a working
// crew selects its incident.

import { fmtTime } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const TRAVEL = new Set(["dispatched", "en_route"]);
const AT_SITE = new Set(["on_site", "repairing"]);
// In screen pixels (the group is scaled by --px).
const TRIANGLE = "M0 -8L7 5H-7Z";
const DIAMOND = "M0 -8L8 0L0 8L-8 0Z";

export const crewStatus = (status) => status.replace("_", " ");
export const crewShape = (status) => (AT_SITE.has(status) ? "diamond" : TRAVEL.has(status) ? "triangle" : "hollow");

function el(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** Where to draw a crew: its last position, else its depot, else nowhere. */
export function crewPoint(crew) {
  if (Number.isFinite(crew.lon) && Number.isFinite(crew.lat)) return [crew.lon, crew.lat];
  if (crew.depot && Number.isFinite(crew.depot.lon) && Number.isFinite(crew.depot.lat)) return [crew.depot.lon, crew.depot.lat];
  return null;
}

/** The crew markers for ``layer`` (SVG <g>), from GET /v1/crews and the open work orders.
 * Answers the labels wanted: [{id, status, text, x, y, dx, dy}] (x, y in SVG units; dx, dy in
 * screen pixels from the point to the label's right end, middle). */
export function drawCrews(layer, projection, crews, orders, engineTime) {
  const incidentOf = new Map(orders.map((o) => [o.id, o.incident]));
  const marks = [];
  const labels = [];
  // Working crews last, so they sit on top of idle ones at a shared depot.
  const ordered = [...crews].sort((a, b) => Boolean(a.order) - Boolean(b.order) || a.id.localeCompare(b.id));
  for (const crew of ordered) {
    const point = crewPoint(crew);
    if (!point) continue;
    const [x, y] = projection.world(...point);
    const incident = crew.order ? incidentOf.get(crew.order) ?? null : null;
    const g = el("g", {
      class: `crew crew-${crew.status} shape-${crewShape(crew.status)}${crew.on_shift === false ? " not-on-shift" : ""}`,
      transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
      "data-id": crew.id,
      "data-status": crew.status,
    });
    if (crew.order) g.dataset.order = crew.order;
    if (incident) g.dataset.incident = incident;
    const mark = g.appendChild(el("g", { class: "crew-mark" }));
    const atSite = AT_SITE.has(crew.status);
    const shape = mark.appendChild(el("g", atSite ? { transform: "translate(-9 -9)" } : {}));
    const d = atSite ? DIAMOND : TRIANGLE;
    shape.append(el("path", { d, class: "halo" }), el("path", { d, class: "body" }));
    if (crew.order) labels.push({ id: crew.id, status: crew.status, text: crew.name || crew.id, x, y, dx: atSite ? -20 : -11, dy: atSite ? -9 : 0 });
    const where = Number.isFinite(crew.lon) ? "" : " · at its depot";
    const work = crew.order ? ` · ${crew.order}${incident ? ` (${incident})` : ""}` : "";
    const since = crew.since ? ` since ${fmtTime(crew.since, engineTime)}` : "";
    g.appendChild(el("title")).textContent =
      `${crew.name || crew.id} (${crew.id}) · ${crewStatus(crew.status)}${since}${work}${where}` +
      `${crew.on_shift === false && crew.status !== "off_shift" ? " · outside its shift" : ""} · ${crew.skills.join(", ")}`;
    marks.push(g);
  }
  layer.replaceChildren(...marks);
  return labels;
}
