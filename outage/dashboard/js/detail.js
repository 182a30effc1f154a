// The selected incident and the officer's commands on it.
//
// Every command is a POST with an Idempotency-Key (see api.js); the service's answer (or its
// {"detail"} error) is shown as is. The list and map catch up through the event stream.

import { post } from "./api.js";
import { $, fmtAge, fmtInt, fmtTime, h, toast } from "./dom.js";
import { suppressed } from "./incidents.js";

const OPEN = new Set(["predicted", "confirmed", "dispatched", "partially_restored", "scheduled"]);

export class IncidentDetail {
  constructor(panel, { engineTime, onChanged }) {
    this.panel = panel;
    this.engineTime = engineTime; // () => ISO string
    this.onChanged = onChanged;
    this.incident = null;
  }

  show(incident) {
    this.incident = incident;
    const panel = this.panel;
    if (!incident) {
      panel.hidden = true;
      panel.replaceChildren();
      return;
    }
    panel.hidden = false;
    panel.dataset.id = incident.id;
    const now = this.engineTime();
    const open = OPEN.has(incident.status);
    panel.replaceChildren(
      h("h2", {}, `Incident ${incident.id} `, h("span", { class: `pill status-${incident.status}`, id: "detail-status" }, incident.status.replace("_", " ")),
        h("button", { type: "button", class: "close", title: "Close", onclick: () => this.onChanged(null) }, "×")),
      h("dl", { class: "facts" },
        fact("Device", `${incident.device} (${incident.level})`),
        fact("Feeder", `${incident.feeder} · ${incident.substation}`),
        fact("Customers out", fmtInt(incident.customers_affected)),
        fact("Calls", `${fmtInt(incident.calls)} (${fmtInt(suppressed(incident))} suppressed)`),
        fact("Hazards", fmtInt(incident.hazards)),
        fact("Started", `${fmtTime(incident.started, now)} (${fmtAge(incident.started, now)} ago)`),
        fact("ETR", incident.etr ? fmtTime(incident.etr, now) : "not set"),
        fact("Crew", incident.crew || "–"),
        fact("Cause", incident.cause || "–"),
      ),
      open ? this.controls(incident) : h("p", {}, `This incident is ${incident.status}.`),
      h("ol", { class: "timeline" },
        (incident.timeline || []).map((t) => h("li", {}, `${fmtTime(t.at, now)} ${t.status}`))),
    );
  }

  controls(inc) {
    const crew = h("input", { id: "crew", placeholder: "crew", value: inc.crew || "", size: 8 });
    const etr = h("input", { id: "etr", type: "datetime-local", value: localInput(inc.etr || plusHours(this.engineTime(), 2)) });
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
        h("button", { type: "button", id: "do-etr", onclick: () => run("ETR", "etr", { etr: isoFromLocal(etr.value) }) }, "Set ETR"),
      ),
      h("div", { class: "row" },
        reason,
        h("button", { type: "button", id: "do-restore", onclick: () => run("restore", "restore", withReason(reason.value)) }, "Restore"),
        h("button", { type: "button", id: "do-cancel", class: "secondary", onclick: () => run("cancel", "cancel", withReason(reason.value)) }, "Cancel"),
      ),
    );
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

/** ISO -> the value of a datetime-local input (browser's zone). */
function localInput(iso) {
  const at = new Date(iso);
  const local = new Date(at.getTime() - at.getTimezoneOffset() * 60e3);
  return local.toISOString().slice(0, 16);
}

/** datetime-local value -> ISO with a zone (the API refuses a time without one). */
function isoFromLocal(value) {
  return value ? new Date(value).toISOString() : null;
}
