// The network map: the topology drawn once, open incidents redrawn on each refresh.
//
// Few SVG elements however big the network: one path per feeder for its sections, one per
// device kind, one for all transformers. Incidents are one <g class="incident"> each, with
// data-id, data-status, so the page (and the browser tests) can find them. Outage areas of
// device-level incidents carry a label (ticket, customers out, ETR); labels and feeder names
// keep a constant size on screen and are thinned so that none overlaps another. Crews are
// drawn on top of everything (crews.js): a label must not hide a crew.

import { drawCrews } from "./crews.js";
import { fmtInt, fmtTime } from "./dom.js";
import { MapView } from "./mapview.js";
import { Projection } from "./project.js";
import { TileLayer } from "./tiles.js";

const SVG = "http://www.w3.org/2000/svg";
const DEVICE_KINDS = ["breaker", "recloser", "sectionalizer", "fuse", "switch", "relay", "tie"];
// Feeder colours: quiet, so that incident colours stand out.
const FEEDER_TONES = ["#6b8fb5", "#7aa37a", "#a38f6b", "#8f7ab0", "#5f9ea0", "#a07a8f"];
const LABEL_PX = 12; // label font size on screen
const MAX_LABELS = 14;

function el(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export class NetworkMap {
  constructor(svg, { onSelect, tiles, engineTime }) {
    this.svg = svg;
    this.onSelect = onSelect;
    this.tileUrl = tiles;
    this.engineTime = engineTime;
    this.selected = null;
    this.incidents = [];
    this.feederBoxes = new Map();
    this.crewLabels = [];
    this.pendingLabels = false;
  }

  /** Draw the network GeoJSON from /v1/map/network. */
  drawNetwork(geojson) {
    this.projection = new Projection(geojson.bbox);
    const p = this.projection;
    this.svg.replaceChildren();
    this.layers = {};
    for (const name of ["tiles", "network", "areas", "incidents", "hazards", "feeder-labels", "labels", "crews"]) {
      this.layers[name] = this.svg.appendChild(el("g", { id: `layer-${name}` }));
    }
    const feeders = new Map();
    const feederPoints = new Map();
    const devices = new Map(DEVICE_KINDS.map((k) => [k, ""]));
    let transformers = "";
    const substations = [];
    const heads = [];
    for (const feature of geojson.features) {
      const props = feature.properties;
      const coords = feature.geometry.coordinates;
      if (props.layer === "section") {
        feeders.set(props.feeder, (feeders.get(props.feeder) ?? "") + p.line(coords));
        const points = feederPoints.get(props.feeder) ?? [];
        for (const [lon, lat] of coords) points.push(p.world(lon, lat));
        feederPoints.set(props.feeder, points);
      } else if (props.layer === "device") {
        devices.set(props.kind, (devices.get(props.kind) ?? "") + p.dot(coords[0], coords[1]));
      } else if (props.layer === "transformer") {
        transformers += p.dot(coords[0], coords[1]);
      } else if (props.layer === "substation") {
        substations.push(feature);
      } else if (props.layer === "feeder") {
        heads.push(feature);
      }
    }
    const net = this.layers.network;
    [...feeders.keys()].sort().forEach((feeder, i) => {
      const path = el("path", { d: feeders.get(feeder), class: "section", "data-feeder": feeder });
      path.style.stroke = FEEDER_TONES[i % FEEDER_TONES.length];
      path.appendChild(el("title")).textContent = feeder;
      net.append(path);
    });
    for (const [feeder, points] of feederPoints) this.feederBoxes.set(feeder, bounds(points));
    net.append(el("path", { d: transformers, class: "transformer" }));
    for (const [kind, d] of devices) {
      if (d) net.append(el("path", { d, class: `device ${kind}`, "data-kind": kind }));
    }
    for (const sub of substations) {
      const [lon, lat] = sub.geometry.coordinates;
      const g = net.appendChild(el("g", { class: "substation", "data-id": sub.properties.id }));
      g.append(el("path", { d: p.dot(lon, lat), class: "substation-dot" }));
      const [x, y] = p.world(lon, lat);
      const label = g.appendChild(el("text", { x, y, class: "label", dx: "0.6em", dy: "0.4em" }));
      label.textContent = sub.properties.name || sub.properties.id;
    }
    // A feeder's name at its far end from the head (the trunk's end), where it is alone.
    this.feederLabels = heads.map((f) => {
      const [hx, hy] = p.world(...f.geometry.coordinates);
      const points = feederPoints.get(f.properties.id) || [[hx, hy]];
      let far = points[0];
      let best = -1;
      for (const q of points) {
        const d = (q[0] - hx) ** 2 + (q[1] - hy) ** 2;
        if (d > best) [best, far] = [d, q];
      }
      const short = (f.properties.name || f.properties.id).replace(/^Feeder\s+/i, "");
      return { x: far[0], y: far[1], text: short, id: f.properties.id, dx: far[0] - hx, dy: far[1] - hy };
    });
    this.tiles = this.tileUrl ? new TileLayer(this.layers.tiles, p, this.tileUrl) : null;
    this.view = new MapView(this.svg, p.extent, (view) => this.viewChanged(view));
    this.svg.addEventListener("click", (e) => {
      const g = e.target.closest(".incident, .hazard, .area-label, .crew[data-incident]");
      if (g) this.onSelect(g.dataset.incident || g.dataset.id);
    });
  }

  viewChanged(view) {
    this.current = view;
    // Labels are SVG text: keep them a constant size on screen.
    this.svg.style.setProperty("--label-size", `${(LABEL_PX * this.unitsPerPixel()).toFixed(1)}px`);
    this.svg.style.setProperty("--px", this.unitsPerPixel().toFixed(3)); // crew markers
    if (this.tiles) this.tiles.update(view, this.svg.clientWidth || 800);
    this.scheduleLabels();
  }

  /** SVG units per screen pixel at the current view (preserveAspectRatio "meet"). */
  unitsPerPixel() {
    const view = this.current;
    if (!view) return 1;
    const w = this.svg.clientWidth || 800;
    const hgt = this.svg.clientHeight || 600;
    return Math.max(view.w / w, view.h / hgt);
  }

  /** Redraw open incidents (from /v1/map/incidents). */
  drawIncidents(incidents) {
    if (!this.projection) return;
    this.incidents = incidents;
    const p = this.projection;
    const areas = [];
    const marks = [];
    const hazards = [];
    // Largest first, so small outages inside big ones stay clickable on top.
    const ordered = [...incidents].sort((a, b) => b.customers_affected - a.customers_affected);
    for (const inc of ordered) {
      const cls = `incident status-${inc.status}${inc.id === this.selected ? " selected" : ""}`;
      const attrs = { class: cls, "data-id": inc.id, "data-status": inc.status };
      const area = el("g", attrs);
      if (inc.area.hull) area.append(el("path", { d: polygon(p, inc.area.hull), class: "hull" }));
      if (inc.area.sections.length) {
        area.append(el("path", { d: inc.area.sections.map((s) => p.line(s)).join(""), class: "out" }));
      }
      areas.push(area);
      // Device-level outages get the big marker; a single transformer a small one.
      const mark = el("g", { ...attrs, class: `${cls} level-${inc.level}` });
      const [lon, lat] = inc.area.point;
      mark.append(el("path", { d: p.dot(lon, lat), class: "halo" }));
      mark.append(el("path", { d: p.dot(lon, lat), class: "marker" }));
      mark.appendChild(el("title")).textContent =
        `${inc.id} · ${inc.status.replace("_", " ")} · ${inc.device} · ${fmtInt(inc.customers_affected)} customers out`;
      marks.push(mark);
      for (const hz of inc.hazard_tickets) {
        if (!hz.point) continue;
        const g = el("g", { class: `hazard ${hz.kind}`, "data-id": hz.ticket, "data-incident": inc.id });
        g.append(el("path", { d: p.dot(hz.point[0], hz.point[1]) }));
        g.appendChild(el("title")).textContent = `${hz.ticket} · ${hz.kind.replace("_", " ")} · ${hz.premise}`;
        hazards.push(g);
      }
    }
    this.layers.areas.replaceChildren(...areas);
    this.layers.incidents.replaceChildren(...marks);
    this.layers.hazards.replaceChildren(...hazards);
    this.scheduleLabels();
  }

  /** Redraw the crews (GET /v1/crews) with the open work orders they work on; how many. */
  drawCrews(crews, orders) {
    if (!this.projection) return 0;
    this.crewLabels = drawCrews(this.layers.crews, this.projection, crews, orders, this.engineTime());
    this.scheduleLabels();
    return this.layers.crews.childElementCount;
  }

  scheduleLabels() {
    if (this.pendingLabels || !this.layers) return;
    this.pendingLabels = true;
    requestAnimationFrame(() => {
      this.pendingLabels = false;
      this.drawLabels();
    });
  }

  /** Labels for the biggest device-level outages (and the selected one), then the names of
   * working crews, then feeder names, each placed only where it overlaps nothing placed
   * before it — at the current zoom. */
  drawLabels() {
    const p = this.projection;
    const unit = this.unitsPerPixel();
    const placed = [];
    const fits = (box) => {
      if (placed.some((b) => b.x < box.x + box.w && box.x < b.x + b.w && b.y < box.y + box.h && box.y < b.y + b.h)) return false;
      placed.push(box);
      return true;
    };
    const now = this.engineTime();
    const wanted = [...this.incidents]
      .filter((inc) => inc.level === "device" || inc.id === this.selected)
      .sort((a, b) => (b.id === this.selected) - (a.id === this.selected) || b.customers_affected - a.customers_affected)
      .slice(0, MAX_LABELS);
    const labels = [];
    for (const inc of wanted) {
      const [x, y] = p.world(...inc.area.point);
      const lines = [inc.id, `${fmtInt(inc.customers_affected)} out`, `ETR ${inc.etr ? fmtTime(inc.etr, now) : "not set"}`];
      const w = Math.max(...lines.map((l) => l.length)) * 7.2 * unit + 8 * unit;
      const hgt = lines.length * 14 * unit + 6 * unit;
      const box = { x: x + 10 * unit, y: y - hgt / 2, w, h: hgt };
      if (!fits(box)) continue;
      const g = el("g", { class: `area-label status-${inc.status}`, "data-id": inc.id });
      g.append(el("rect", { x: box.x, y: box.y, width: box.w, height: box.h, rx: 3 * unit }));
      lines.forEach((line, i) => {
        const t = el("text", { x: box.x + 4 * unit, y: box.y + (i + 1) * 14 * unit, class: i ? "sub" : "head" });
        t.textContent = line;
        g.append(t);
      });
      labels.push(g);
    }
    for (const crew of this.crewLabels) {
      const w = crew.text.length * 6.6 * unit;
      const hgt = 13 * unit;
      const right = crew.x + crew.dx * unit;
      const box = { x: right - w, y: crew.y + crew.dy * unit - hgt / 2, w, h: hgt };
      if (!fits(box)) continue;
      const t = el("text", { x: right, y: box.y + 10 * unit, class: `crew-label crew-${crew.status}`, "text-anchor": "end", "data-crew": crew.id });
      t.textContent = crew.text;
      labels.push(t);
    }
    this.layers.labels.replaceChildren(...labels);
    const feederTexts = [];
    for (const f of this.feederLabels || []) {
      const w = f.text.length * 6.6 * unit;
      const hgt = 13 * unit;
      // At the trunk's end, on the network's side of it (so it stays inside the view):
      // above a horizontal trunk, beside a vertical one.
      const horizontal = Math.abs(f.dx) >= Math.abs(f.dy);
      const x = horizontal ? (f.dx >= 0 ? f.x - w : f.x) : f.x + 8 * unit;
      const y = horizontal ? f.y - hgt - 6 * unit : f.dy >= 0 ? f.y - hgt : f.y;
      if (!fits({ x, y, w, h: hgt })) continue;
      const t = el("text", { x, y: y + 10 * unit, class: "feeder-label", "data-feeder": f.id });
      t.textContent = f.text;
      feederTexts.push(t);
    }
    this.layers["feeder-labels"].replaceChildren(...feederTexts);
  }

  select(id, incident) {
    this.selected = id;
    for (const g of this.svg.querySelectorAll(".incident")) {
      g.classList.toggle("selected", g.dataset.id === id);
    }
    if (incident && this.view) this.view.fit(this.box(incident), 0.12);
    this.scheduleLabels();
  }

  /** Zoom to a point (a hazard) with a few hundred metres around it. */
  locate([lon, lat]) {
    const [x, y] = this.projection.world(lon, lat);
    this.view.fit({ x, y, w: 0, h: 0 });
  }

  /** The SVG box to show for an incident: its area with its feeder around it, so the
   * officer sees where on the network it is — not the outage filling the screen. */
  box(incident) {
    const p = this.projection;
    const points = [incident.area.point, ...incident.area.sections.flat()];
    if (incident.area.hull) points.push(...rings(incident.area.hull).flat());
    const own = bounds(points.map(([lon, lat]) => p.world(lon, lat)));
    const feeder = this.feederBoxes.get(incident.feeder);
    return feeder ? union(own, feeder) : own;
  }

  clearIncidents() {
    this.incidents = [];
    this.crewLabels = [];
    this.selected = null;
    if (!this.layers) return;
    for (const name of ["areas", "incidents", "hazards", "crews", "labels"]) this.layers[name].replaceChildren();
  }
}

function bounds(points) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of points) {
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

function union(a, b) {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

function rings(geometry) {
  return geometry.type === "MultiPolygon" ? geometry.coordinates.flat() : geometry.coordinates;
}

function polygon(p, geometry) {
  return rings(geometry).map((ring) => `${p.line(ring)}Z`).join("");
}
