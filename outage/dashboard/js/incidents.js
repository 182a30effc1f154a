// The open-incident list: customers out, calls, suppressed duplicates, hazards, ETR.

import { $, fmtInt, fmtTime, h } from "./dom.js";

/** Suppressed duplicate calls: the service's figure when it gives one, otherwise every call
 * after the first (hazard calls get their own tickets and are not duplicates). */
export function suppressed(inc) {
  if (typeof inc.suppressed === "number") return inc.suppressed;
  return Math.max(0, inc.calls - 1 - (inc.hazards || 0));
}

export class IncidentList {
  constructor(table, { onSelect }) {
    this.body = table.tBodies[0];
    this.onSelect = onSelect;
    this.selected = null;
    this.body.addEventListener("click", (e) => {
      const row = e.target.closest("tr[data-id]");
      if (row) this.onSelect(row.dataset.id);
    });
  }

  render(incidents, engineTime) {
    // Biggest outages first: that is what the officer works on.
    const rows = [...incidents].sort(
      (a, b) => b.customers_affected - a.customers_affected || a.id.localeCompare(b.id),
    );
    this.body.replaceChildren(
      ...rows.map((inc) =>
        h(
          "tr",
          {
            dataset: { id: inc.id, status: inc.status },
            class: inc.id === this.selected ? "selected" : null,
            title: `${inc.feeder} · ${inc.substation} · since ${fmtTime(inc.started, engineTime)}`,
          },
          h("td", { class: "mono" }, inc.id, inc.parent ? h("small", {}, ` ⊂ ${inc.parent}`) : null),
          h("td", {}, h("span", { class: `pill status-${inc.status}` }, inc.status.replace("_", " "))),
          h("td", { class: "mono device" }, inc.device),
          h("td", { class: "num customers" }, fmtInt(inc.customers_affected)),
          h("td", { class: "num calls" }, fmtInt(inc.calls)),
          h("td", { class: "num suppressed" }, fmtInt(suppressed(inc))),
          h("td", { class: inc.hazards ? "num hazards warn" : "num hazards" }, fmtInt(inc.hazards)),
          h("td", { class: "etr" }, inc.etr ? fmtTime(inc.etr, engineTime) : "–"),
        ),
      ),
    );
    $("#incident-count").textContent = String(rows.length);
  }

  select(id) {
    this.selected = id;
    for (const row of this.body.rows) row.classList.toggle("selected", row.dataset.id === id);
  }
}
