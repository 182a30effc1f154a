// The open-incident list: customers out, calls, suppressed duplicates, hazards, ETR and whose
// it is (officer, crew, or the engine's estimate) — and, under it, what left the list lately and where it went (a prediction that moved up and
// swallowed another, a merge, a restoration), so no ticket vanishes without a trace.

import { $, fmtInt, fmtTime, h } from "./dom.js";

const GONE_KEPT = 6;

/** Suppressed duplicate calls: the service's figure when it gives one, otherwise every call
 * after the first (hazard calls get their own tickets and are not duplicates). */
export function suppressed(inc) {
  if (typeof inc.suppressed === "number") return inc.suppressed;
  return Math.max(0, count(inc.calls) - 1 - count(inc.hazards));
}

/** A count whether the service sent a number or the list itself. */
export const count = (value) => (Array.isArray(value) ? value.length : Number.isFinite(value) ? value : 0);

const ETR_SOURCES = {
  officer: "given by the duty officer",
  crew: "given by the crew",
  estimated: "the engine's estimate (from restoration history, crews and their queues)",
};

/** Whose ETR it is, as a small tag: "officer", "crew" or "estimated" (nothing without one). */
export function etrSource(inc) {
  if (!inc.etr || !inc.etr_source) return null;
  const source = inc.etr_source;
  return h("small", { class: `etr-source src-${source}`, dataset: { source }, title: ETR_SOURCES[source] || source }, source);
}

/** What an estimated ETR stands on, as one line (the service sends a text, or a dict). */
export function etrBasis(basis) {
  if (!basis) return "";
  if (typeof basis === "string") return basis;
  return Object.entries(basis).map(([k, v]) => `${k.replaceAll("_", " ")}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
}

export class IncidentList {
  constructor(table, { onSelect }) {
    this.body = table.tBodies[0];
    this.onSelect = onSelect;
    this.selected = null;
    this.known = new Map(); // id -> the last brief seen (to say what a vanished one held)
    this.gone = [];
    for (const root of [this.body, $("#gone"), $("#also-on-map")]) {
      root.addEventListener("click", (e) => {
        const target = e.target.closest("[data-id]");
        if (target) this.onSelect(target.dataset.id);
      });
    }
  }

  render(incidents, openStates, engineTime) {
    const open = new Set(openStates);
    for (const inc of incidents) this.known.set(inc.id, inc);
    // Biggest outages first: that is what the officer works on.
    const rows = incidents
      .filter((inc) => open.has(inc.status))
      .sort((a, b) => b.customers_affected - a.customers_affected || a.id.localeCompare(b.id));
    this.body.replaceChildren(
      ...rows.map((inc) =>
        h(
          "tr",
          {
            dataset: { id: inc.id, status: inc.status },
            class: inc.id === this.selected ? "selected" : null,
            title: `${inc.feeder} · ${inc.substation} · since ${fmtTime(inc.started, engineTime)}`,
          },
          h("td", { class: "mono" }, inc.id, inc.parent ? h("small", { title: `inside ${inc.parent}` }, " ⊂") : null),
          h("td", {}, h("span", { class: `pill status-${inc.status}` }, inc.status.replace("_", " "))),
          h("td", { class: "mono device", title: inc.premise ? `service drop: ${inc.premise} under ${inc.device}` : inc.device },
            inc.premise ? `${inc.premise} (service)` : inc.device),
          h("td", { class: "num customers" }, fmtInt(inc.customers_affected)),
          h("td", { class: "num calls" }, fmtInt(count(inc.calls))),
          h("td", { class: "num suppressed" }, fmtInt(suppressed(inc))),
          h("td", { class: count(inc.hazards) ? "num hazards warn" : "num hazards" }, fmtInt(count(inc.hazards))),
          h("td", { class: "etr", title: inc.etr_basis ? etrBasis(inc.etr_basis) : null },
            inc.etr ? fmtTime(inc.etr, engineTime) : "–", inc.etr ? " " : null, etrSource(inc)),
        ),
      ),
    );
    $("#incident-count").textContent = String(rows.length);
    const others = incidents.filter((inc) => !open.has(inc.status));
    $("#also-on-map").replaceChildren(
      ...(others.length
        ? [
            h("span", {}, "Also on the map, not counted as open: "),
            ...others.map((inc) =>
              h("button", { type: "button", class: "link", dataset: { id: inc.id } },
                `${inc.id} ${inc.status === "scheduled" ? "planned work" : inc.status.replace("_", " ")}`)),
          ]
        : []),
    );
    return rows.length;
  }

  /** An event that takes a ticket off the list (or moves it): one line saying where to. */
  note(type, event, engineTime) {
    const was = this.known.get(event.incident);
    const held = was ? `${fmtInt(was.customers_affected)} out, ${fmtInt(count(was.calls))} calls` : null;
    let line;
    switch (type) {
      case "IncidentMerged":
        line = [h("b", {}, event.incident), held ? ` (${held})` : "", " merged into ",
          h("button", { type: "button", class: "link", dataset: { id: event.into } }, event.into),
          " — its calls are there now"];
        break;
      case "PredictionMoved":
        line = [h("button", { type: "button", class: "link", dataset: { id: event.incident } }, event.incident),
          ` moved ${event.from_device} → ${event.to_device} (${fmtInt(event.customers)} customers)`];
        break;
      case "OutageRestored":
        line = [h("b", {}, event.incident), ` restored (${fmtInt(event.customers)} customers)`];
        break;
      case "IncidentCancelled":
        line = [h("b", {}, event.incident), held ? ` (${held})` : "", ` cancelled${event.reason ? `: ${event.reason}` : ""}`];
        break;
      default:
        return;
    }
    this.gone.unshift(h("li", { dataset: { type } }, h("small", {}, fmtTime(event.at, engineTime)), " ", ...line));
    this.gone.length = Math.min(this.gone.length, GONE_KEPT);
    $("#gone").replaceChildren(...this.gone);
  }

  select(id) {
    this.selected = id;
    for (const row of this.body.rows) row.classList.toggle("selected", row.dataset.id === id);
  }

  clear() {
    this.known.clear();
    this.gone = [];
    this.selected = null;
    this.body.replaceChildren();
    $("#gone").replaceChildren();
    $("#also-on-map").replaceChildren();
    $("#incident-count").textContent = "0";
  }
}
