// The selected incident and the officer's commands on it.
//
// Every command is a POST with an Idempotency-Key (see api.js); the service's answer (or its
// {"detail"} error) is shown as is. The list and map catch up through the event stream.
// The panel always renders one shape: counts are counted here whether the service sent a
// number (list rows) or the list itself (the full incident), so nothing reads "NaN".

import { post } from "./api.js";
import { ask, fmtAge, fmtInt, fmtTime, h, isoFromZoneInput, toast, zoneInput, zoneName } from "./dom.js";
import { hazardKind } from "./hazards.js";
import { count, etrBasis, etrSource, suppressed } from "./incidents.js";
import { clockBadge } from "./orders.js";

const ACTIVE = new Set(["predicted", "confirmed", "dispatched", "partially_restored", "scheduled"]);

export class IncidentDetail {
  constructor(panel, { engineTime, onChanged, hazardsOf, onSelect }) {
    this.panel = panel;
    this.engineTime = engineTime; // () => ISO string
    this.onChanged = onChanged;
    this.hazardsOf = hazardsOf; // (id) => open hazard tickets of that incident
    this.onSelect = onSelect;
    this.incident = null;
  }

  show(incident) {
    this.incident = incident;
    const panel = this.panel;
    if (!incident) {
      panel.hidden = true;
      panel.replaceChildren();
      delete panel.dataset.id;
      return;
    }
    panel.hidden = false;
    panel.dataset.id = incident.id;
    const now = this.engineTime();
    const hazards = this.hazardsOf(incident.id);
    const calls = count(incident.calls);
    panel.replaceChildren(...[
      h("h2", {}, `Incident ${incident.id} `, h("span", { class: `pill status-${incident.status}`, id: "detail-status" }, incident.status.replace("_", " ")),
        h("button", { type: "button", class: "close", title: "Close (Esc)", onclick: () => this.onChanged(null) }, "×")),
      incident.status === "merged" && incident.merged_into
        ? h("p", { class: "note" }, "Merged: its calls are now on ",
            h("button", { type: "button", class: "link", onclick: () => this.onSelect(incident.merged_into) }, incident.merged_into), ".")
        : null,
      h("dl", { class: "facts" },
        fact("Device", incident.premise
          ? `${incident.device}: service drop of ${incident.premise} alone`
          : `${incident.device} (${incident.level})`),
        fact("Feeder", `${incident.feeder} · ${incident.substation}`),
        fact("Customers out", fmtInt(incident.customers_affected)),
        fact("Calls", `${fmtInt(calls)} (${fmtInt(suppressed(incident))} suppressed)`),
        fact("Hazards", hazards.length
          ? h("span", { class: "warn", id: "detail-hazards" }, hazards.map((x) => `${hazardKind(x.kind)} ${x.ticket}`).join(", "))
          : h("span", { id: "detail-hazards" }, fmtInt(count(incident.hazards)))),
        fact("Started", `${fmtTime(incident.started, now)} (${fmtAge(incident.started, now)} ago)`),
        fact("ETR", h("span", { id: "detail-etr", dataset: { source: incident.etr ? incident.etr_source || "" : "" } },
          incident.etr ? fmtTime(incident.etr, now) : "not set", incident.etr ? " " : null, etrSource(incident))),
        incident.etr && incident.etr_basis ? fact("ETR basis", h("span", { id: "detail-etr-basis" }, etrBasis(incident.etr_basis))) : null,
        fact("Work order", workOrder(incident.work_order, now)),
        fact("Crew", incident.crew || "–"),
        fact("Cause", incident.cause || "–"),
      ),
      ACTIVE.has(incident.status) ? this.controls(incident) : h("p", {}, `This incident is ${incident.status.replace("_", " ")}.`),
      h("ol", { class: "timeline" },
        (incident.timeline || []).map((t) => h("li", {}, `${fmtTime(t.at, now)} ${t.status.replace("_", " ")}`))),
    ].filter(Boolean));
  }

  controls(inc) {
    const crew = h("input", { id: "crew", placeholder: "crew", value: inc.crew || "", size: 8 });
    // A text field, not datetime-local: the browser would show its own locale (AM/PM). The
    // officer types the utility's local time, 24-hour: "2026-07-01 23:30".
    const shown = inc.etr ? zoneInput(inc.etr) : zoneInput(plusHours(this.engineTime(), 2));
    const etr = h("input", {
      id: "etr", value: shown.replace("T", " "), size: 16, inputmode: "numeric",
      pattern: "\\d{4}-\\d{2}-\\d{2}[ T]\\d{2}:\\d{2}", title: `YYYY-MM-DD HH:MM, 24-hour, in ${zoneName()}`,
      "aria-label": `ETR in ${zoneName()}`,
    });
    const reason = h("input", { id: "reason", placeholder: "reason (optional)", size: 14 });
    const id = encodeURIComponent(inc.id);
    const run = (label, path, body) => this.command(label, `/v1/incidents/${id}/${path}`, body);
    return h("div", { class: "controls" },
      h("div", { class: "row" },
        h("button", { type: "button", id: "do-confirm", disabled: inc.status !== "predicted", onclick: () => run("confirm", "confirm") }, "Confirm"),
        crew,
        h("button", { type: "button", id: "do-dispatch", onclick: () => run("dispatch", "dispatch", { crew: crew.value.trim() }) }, "Dispatch"),
      ),
      h("div", { class: "row" },
        etr,
        h("small", { class: "muted" }, zoneName()),
        h("button", { type: "button", id: "do-etr", onclick: () => this.setEtr(inc, etr.value, run) }, "Set ETR"),
      ),
      h("div", { class: "row" },
        reason,
        h("button", { type: "button", id: "do-restore", onclick: () => this.finish(inc, "restore", reason.value, run) }, "Restore"),
        h("button", { type: "button", id: "do-cancel", class: "secondary", onclick: () => this.finish(inc, "cancel", reason.value, run) }, "Cancel"),
      ),
    );
  }

  /** The input holds minutes; the ETR given may hold seconds. The same minute is the same
   * ETR: nothing is sent (an unchanged ETR must not tell every customer it changed) — unless
   * it was the engine's estimate or the crew's: then the officer makes it theirs. */
  setEtr(inc, typed, run) {
    const value = typed.trim().replace(" ", "T");
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value)) {
      toast(`ETR: write it as YYYY-MM-DD HH:MM (24-hour, ${zoneName()})`, "error");
      return;
    }
    if (inc.etr && inc.etr_source === "officer" && zoneInput(inc.etr) === value) {
      toast(`ETR unchanged (${fmtTime(inc.etr, this.engineTime())})`);
      return;
    }
    run("ETR", "etr", { etr: isoFromZoneInput(value) });
  }

  /** Restore and cancel cannot be taken back: both ask, and say so loudly when the incident
   * still has an open hazard (a wire on the road does not go away with the outage). */
  async finish(inc, action, reasonText, run) {
    const hazards = this.hazardsOf(inc.id);
    const now = this.engineTime();
    const lines = [
      action === "restore"
        ? `Power is back for the ${fmtInt(inc.customers_affected)} customers of ${inc.device}? They will be told.`
        : `${inc.id} was a wrong prediction: its ${fmtInt(inc.customers_affected)} customers are not out?`,
      ...hazards.map((x) => ({
        warn: true,
        text: `⚠ Open hazard ${x.ticket}: ${hazardKind(x.kind)} at ${x.address || x.premise}, reported ${fmtAge(x.at, now)} ago. ` +
          "Make sure it is safe: closing the incident does not close the danger.",
      })),
    ];
    const verb = action === "restore" ? "Restore" : "Cancel incident";
    const yes = await ask({
      title: `${verb} ${inc.id}?`,
      lines,
      confirm: hazards.length ? `${verb} anyway` : verb,
      cancel: "Keep it open",
      danger: hazards.length > 0,
    });
    if (yes) run(action, action, withReason(reasonText));
  }

  async command(label, path, body) {
    for (const button of this.panel.querySelectorAll("button")) button.disabled = true;
    try {
      const answer = await post(path, body);
      toast(`${label}: ${answer.duplicate ? "already done" : "done"} (${answer.events.map((e) => e.type).join(", ") || "no change"})`);
      this.onChanged(answer.incident ? answer.incident.id : null, answer.incident);
    } catch (error) {
      toast(`${label}: ${error.message}`, "error");
      this.show(this.incident);
    }
  }
}

/** The incident's work order in brief: id, SLA clock, the step and its deadline, crew. */
function workOrder(order, now) {
  if (!order) return h("span", { id: "detail-work-order", class: "muted" }, "none");
  return h("span", { id: "detail-work-order", dataset: { id: order.id, clock: order.clock || "" } },
    h("span", { class: "mono" }, order.id), " ", clockBadge(order.clock),
    order.step ? ` ${order.step} due ${fmtTime(order.due, now)}` : "",
    ` · ${order.crew ? `crew ${order.crew}` : "unassigned"} · ${order.area_class}`);
}

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value)];
}

function withReason(text) {
  return text.trim() ? { reason: text.trim() } : undefined;
}

function plusHours(iso, hours) {
  const at = iso ? new Date(iso) : new Date();
  return new Date(at.getTime() + hours * 3600e3).toISOString();
}

