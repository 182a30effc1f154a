// The work-order queue: every open repair order with its SLA clock, the soonest due first —
// what a crew must reach (arrival) or put right (restoration) next, and by when. In a declared
// storm, under it, when most customers of each substation should be back. Hidden while the
// service has no /v1/work-orders (404).

import { $, fmtInt, fmtTime, h } from "./dom.js";

// The service's clock values: green, amber, red while open; met or missed once closed.
const CLOCK = {
  green: ["on time", "time left before the deadline"],
  amber: ["due soon", "within the warning time of the deadline"],
  red: ["overdue", "the deadline has passed"],
  met: ["met", "closed within its deadlines"],
  missed: ["missed", "closed after a deadline passed"],
};

/** The SLA clock as a coloured badge; data-clock is the service's value. */
export function clockBadge(clock) {
  if (!clock) return h("span", { class: "muted" }, "–");
  const [text, title] = CLOCK[clock] || [clock, clock];
  return h("span", { class: `sla sla-${clock}`, dataset: { clock }, title }, text);
}

/** Whole minutes left, "−12" past the deadline (never NaN). */
export function fmtMinutesLeft(minutes) {
  if (typeof minutes !== "number" || !Number.isFinite(minutes)) return "–";
  const m = Math.round(minutes);
  return m < 0 ? `−${fmtInt(-m)}` : fmtInt(m);
}

const byDue = (a, b) => (a.due ?? "9999").localeCompare(b.due ?? "9999") || a.id.localeCompare(b.id);

export class WorkOrderQueue {
  constructor(panel, { onSelect }) {
    this.panel = panel;
    this.onSelect = onSelect;
    this.selected = null;
    this.body = $("#order-list", panel).tBodies[0];
    this.body.addEventListener("click", (e) => {
      const row = e.target.closest("tr[data-incident]");
      if (row) this.onSelect(row.dataset.incident);
    });
  }

  /** body: GET /v1/work-orders (null while the endpoint is missing); crews: GET /v1/crews. */
  render(body, crews, now) {
    this.panel.hidden = body === null;
    if (!body) return;
    const names = new Map((crews || []).map((c) => [c.id, c.name || c.id]));
    const open = body.work_orders.filter((o) => !o.closed_at && o.step).sort(byDue);
    const late = open.filter((o) => o.clock === "red").length;
    const soon = open.filter((o) => o.clock === "amber").length;
    $("#order-count", this.panel).textContent = String(open.length);
    const red = $("#sla-red", this.panel);
    red.textContent = `${fmtInt(late)} overdue`;
    red.classList.toggle("zero", late === 0);
    const amber = $("#sla-amber", this.panel);
    amber.textContent = `${fmtInt(soon)} due soon`;
    amber.classList.toggle("zero", soon === 0);
    this.body.replaceChildren(
      ...(open.length
        ? open.map((o) => this.row(o, names, now))
        : [h("tr", { class: "none" }, h("td", { colspan: 9, class: "muted" }, "No open work order."))]),
    );
    this.renderEtrs(body.substation_etrs || {}, now);
  }

  row(o, names, now) {
    const crew = o.crew ? names.get(o.crew) || o.crew : null;
    const limit = o[o.step]?.limit_minutes;
    return h("tr",
      {
        dataset: { id: o.id, incident: o.incident, clock: o.clock },
        class: o.incident === this.selected ? "selected" : null,
        title: `${o.id} · ${o.kind} (${o.skill}) · ${o.substation.replace("substation.", "")} · opened ${fmtTime(o.opened_at, now)}` +
          (limit ? ` · ${o.step} within ${fmtInt(limit)} min` : ""),
      },
      h("td", { class: "mono order" }, o.id),
      h("td", { class: "mono" }, h("button", { type: "button", class: "link" }, o.incident)),
      h("td", {}, o.area_class),
      h("td", { class: "num" }, fmtInt(o.customers)),
      h("td", { class: crew ? "crew" : "crew muted", title: o.crew || null }, crew || "unassigned"),
      h("td", { class: "step" }, o.step),
      h("td", { class: "due" }, fmtTime(o.due, now)),
      h("td", { class: "num left", title: "minutes left to the deadline" }, fmtMinutesLeft(o.minutes_left)),
      h("td", { class: "clock" }, clockBadge(o.clock)),
    );
  }

  /** "Most customers back by" per substation: only while a storm is declared. */
  renderEtrs(etrs, now) {
    const line = $("#substation-etrs", this.panel);
    const entries = Object.entries(etrs).filter(([, at]) => at).sort(([, a], [, b]) => a.localeCompare(b));
    line.hidden = entries.length === 0;
    const parts = entries.flatMap(([sub, at], i) => [
      ...(i ? [" · "] : []),
      h("span", { class: "sub-etr", dataset: { substation: sub, etr: at } }, h("b", {}, sub.replace("substation.", "")), ` ${fmtTime(at, now)}`),
    ]);
    line.replaceChildren(...(entries.length ? [h("span", { class: "muted" }, "Storm: most customers back by "), ...parts] : []));
  }

  select(id) {
    this.selected = id;
    for (const row of this.body.rows) row.classList.toggle("selected", row.dataset.incident === id);
  }

  clear() {
    this.selected = null;
    this.body.replaceChildren();
    $("#order-count", this.panel).textContent = "0";
    $("#substation-etrs", this.panel).replaceChildren();
    this.panel.hidden = true;
  }
}
