// The officer's feed: one line per notable event (never per call), newest first, capped;
// each with its time in the utility's zone.

import { fmtClock, fmtInt, fmtTime, h } from "./dom.js";

const KEEP = 60;

function describe(type, e, engineTime) {
  switch (type) {
    case "OutagePredicted": return e.premise
      ? `${e.incident} predicted: service drop of ${e.premise} (under ${e.device})`
      : `${e.incident} predicted at ${e.device} (${fmtInt(e.customers)} customers)`;
    case "PredictionMoved": return `${e.incident} moved ${e.from_device} → ${e.to_device} (${fmtInt(e.customers)} customers): ${e.reason}`;
    case "IncidentMerged": return `${e.incident} merged into ${e.into}: its calls are on ${e.into} now`;
    case "OutageConfirmed": return `${e.incident} confirmed by ${e.by}`;
    case "CrewDispatched": return `${e.incident}: crew ${e.crew} dispatched`;
    case "EtrChanged": return `${e.incident}: ETR ${e.etr ? fmtTime(e.etr, engineTime) : "cleared"}${e.previous ? ` (was ${fmtTime(e.previous, engineTime)})` : ""}${e.source && e.source !== "officer" ? ` from the ${e.source}` : ""}`;
    case "OutagePartiallyRestored": return `${e.incident} partially restored (${fmtInt(e.customers_still_out)} still out)`;
    case "OutageRestored": return `${e.incident} restored (${fmtInt(e.customers)} customers)`;
    case "IncidentCancelled": return `${e.incident} cancelled: ${e.reason}`;
    case "HazardReported": return `⚠ ${e.kind.replace("_", " ")} at ${e.premise} (${e.ticket})`;
    case "StormDeclared": return `⚠ storm declared: ${e.scope}`;
    case "StormStoodDown": return `storm stood down: ${e.scope}`;
    case "RuleSetChanged": return `rule set: ${e.rule_set}`;
    case "WarningIssued": return `⚠ ${e.level} ${e.kind} warning for ${e.area}${e.until ? ` until ${fmtTime(e.until, engineTime)}` : ""}`;
    case "WorkOrderOpened": return `${e.order} opened for ${e.incident} (${e.area_class}, ${fmtInt(e.customers)} customers): crew on site by ${fmtTime(e.arrival_due, engineTime)}`;
    case "CrewStatusChanged": return `crew ${e.crew} ${e.status.replace("_", " ")}${e.incident ? ` (${e.incident})` : ""}`;
    case "SlaEscalated": return `${e.level === "breach" ? "⚠ " : ""}${e.order}: ${e.step} ${e.level === "breach" ? "deadline passed" : "due soon"} (${fmtTime(e.due, engineTime)}${e.crew ? `, crew ${e.crew}` : ", no crew"})`;
    case "WorkOrderClosed": return `${e.order} closed: ${e.outcome}${e.crew ? ` (crew ${e.crew})` : ""}`;
    case "PlaybookAudit": return `playbook ${e.playbook ?? ""} ${(e.kind ?? e.what ?? "").replace("_", " ")}`.trim();
    default: return `${e.incident || e.device || e.ticket || ""}`;
  }
}

export class Feed {
  constructor(list, engineTime) {
    this.list = list;
    this.engineTime = engineTime;
    this.pending = [];
    this.scheduled = false;
  }

  /** Batched into one DOM update per animation frame. */
  add(type, event, seq) {
    this.pending.push([type, event, seq]);
    if (this.pending.length > KEEP) this.pending.splice(0, this.pending.length - KEEP);
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      const now = this.engineTime();
      const items = this.pending.splice(0).reverse().map(([t, e, s]) =>
        h("li", { dataset: { type: t, seq: s }, class: t },
          h("time", {}, e.at ? fmtClock(e.at) : ""), " ", h("small", {}, t), " ", describe(t, e, now)));
      this.list.prepend(...items);
      while (this.list.children.length > KEEP) this.list.lastElementChild.remove();
    });
  }

  clear() {
    this.pending = [];
    this.list.replaceChildren();
  }
}
