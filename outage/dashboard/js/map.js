// The network map: the topology drawn once, open incidents redrawn on each refresh.
//
// Few SVG elements however big the network: one path per feeder for its sections, one per
// device kind, one for all transformers. Incidents are one <g class="incident"> each, with
// data-id, data-status, so the page (and the browser tests) can find them.

import { Projection } from "./project.js";
import { MapView } from "./mapview.js";
import { TileLayer } from "./tiles.js";

const SVG = "http://www.w3.org/2000/svg";
const DEVICE_KINDS = ["breaker", "recloser", "sectionalizer", "fuse", "switch", "relay", "tie"];
// Feeder colours: quiet, so that incident colours stand out.
const FEEDER_TONES = ["#6b8fb5", "#7aa37a", "#a38f6b", "#8f7ab0", "#5f9ea0", "#a07a8f"];

function el(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export class NetworkMap {
  constructor(svg, { onSelect, tiles }) {
    this.svg = svg;
    this.onSelect = onSelect;
    this.tileUrl = tiles;
    this.selected = null;
  }

  /** Draw the network GeoJSON from /v1/map/network. */
  drawNetwork(geojson) {
    this.projection = new Projection(geojson.bbox);
    const p = this.projection;
    this.svg.replaceChildren();
    this.layers = {};
    for (const name of ["tiles", "network", "areas", "incidents", "hazards"]) {
      this.layers[name] = this.svg.appendChild(el("g", { id: `layer-${name}` }));
    }
    const feeders = new Map();
    const devices = new Map(DEVICE_KINDS.map((k) => [k, ""]));
    let transformers = "";
    const substations = [];
    for (const feature of geojson.features) {
      const props = feature.properties;
      const coords = feature.geometry.coordinates;
      if (props.layer === "section") {
        feeders.set(props.feeder, (feeders.get(props.feeder) ?? "") + p.line(coords));
      } else if (props.layer === "device") {
        devices.set(props.kind, (devices.get(props.kind) ?? "") + p.dot(coords[0], coords[1]));
      } else if (props.layer === "transformer") {
        transformers += p.dot(coords[0], coords[1]);
      } else if (props.layer === "substation") {
        substations.push(feature);
      }
    }
    const net = this.layers.network;
    [...feeders.keys()].sort().forEach((feeder, i) => {
      const path = el("path", { d: feeders.get(feeder), class: "section", "data-feeder": feeder });
      path.style.stroke = FEEDER_TONES[i % FEEDER_TONES.length];
      path.appendChild(el("title")).textContent = feeder;
      net.append(path);
    });
    net.append(el("path", { d: transformers, class: "transformer" }));
    for (const [kind, d] of devices) {
      if (d) net.append(el("path", { d, class: `device ${kind}`, "data-kind": kind }));
    }
    for (const sub of substations) {
      const [lon, lat] = sub.geometry.coordinates;
      const g = net.appendChild(el("g", { class: "substation", "data-id": sub.properties.id }));
      g.append(el("path", { d: p.dot(lon, lat), class: "substation-dot" }));
      const [x, y] = p.world(lon, lat);
      const label = g.appendChild(el("text", { x, y, class: "label" }));
      label.textContent = sub.properties.name || sub.properties.id;
    }
    this.tiles = this.tileUrl ? new TileLayer(this.layers.tiles, p, this.tileUrl) : null;
    this.view = new MapView(this.svg, p.extent, (view) => this.viewChanged(view));
    this.svg.addEventListener("click", (e) => {
      const g = e.target.closest(".incident, .hazard");
      if (g) this.onSelect(g.dataset.incident || g.dataset.id);
    });
  }

  viewChanged(view) {
    // Labels are SVG text: keep them a constant size on screen.
    const scale = view.w / (this.svg.clientWidth || 800);
    this.svg.style.setProperty("--label-size", `${(12 * scale).toFixed(1)}px`);
    if (this.tiles) this.tiles.update(view, this.svg.clientWidth || 800);
  }

  /** Redraw open incidents (from /v1/map/incidents). */
  drawIncidents(incidents) {
    if (!this.projection) return;
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
        `${inc.id} · ${inc.status} · ${inc.device} · ${inc.customers_affected} customers out`;
      marks.push(mark);
      for (const hz of inc.hazard_tickets) {
        if (!hz.point) continue;
        const g = el("g", { class: `hazard ${hz.kind}`, "data-id": hz.ticket, "data-incident": inc.id });
        g.append(el("path", { d: p.dot(hz.point[0], hz.point[1]) }));
        g.appendChild(el("title")).textContent = `${hz.ticket} · ${hz.kind} · ${hz.premise}`;
        hazards.push(g);
      }
    }
    this.layers.areas.replaceChildren(...areas);
    this.layers.incidents.replaceChildren(...marks);
    this.layers.hazards.replaceChildren(...hazards);
  }

  select(id, incident) {
    this.selected = id;
    for (const g of this.svg.querySelectorAll(".incident")) {
      g.classList.toggle("selected", g.dataset.id === id);
    }
    if (incident && this.view) this.view.fit(this.box(incident), 0.3);
  }

  /** The SVG box around an incident's area (for zooming to it). */
  box(incident) {
    const p = this.projection;
    const points = [incident.area.point, ...incident.area.sections.flat()];
    if (incident.area.hull) points.push(...incident.area.hull.coordinates.flat());
    const xy = points.map(([lon, lat]) => p.world(lon, lat));
    const xs = xy.map((q) => q[0]);
    const ys = xy.map((q) => q[1]);
    const x = Math.min(...xs);
    const y = Math.min(...ys);
    return { x, y, w: Math.max(...xs) - x, h: Math.max(...ys) - y };
  }
}

function polygon(p, geometry) {
  const rings = geometry.type === "MultiPolygon" ? geometry.coordinates.flat() : geometry.coordinates;
  return rings.map((ring) => `${p.line(ring)}Z`).join("");
}
