// The officer's feed: one line per notable event (never per call), newest first, capped.

import { h } from "./dom.js";

const KEEP = 60;

function describe(type, e) {
  switch (type) {
    case "OutagePredicted": return `${e.incident} predicted at ${e.device} (${e.customers} customers)`;
    case "PredictionMoved": return `${e.incident} moved ${e.from_device} → ${e.to_device} (${e.customers})`;
    case "IncidentMerged": return `${e.incident} merged into ${e.into}`;
    case "OutageConfirmed": return `${e.incident} confirmed by ${e.by}`;
    case "CrewDispatched": return `${e.incident}: crew ${e.crew} dispatched`;
    case "EtrChanged": return `${e.incident}: ETR ${e.etr ? new Date(e.etr).toLocaleTimeString() : "cleared"}`;
    case "OutagePartiallyRestored": return `${e.incident} partially restored (${e.customers_still_out} still out)`;
    case "OutageRestored": return `${e.incident} restored (${e.customers} customers)`;
    case "IncidentCancelled": return `${e.incident} cancelled: ${e.reason}`;
    case "HazardReported": return `⚠ ${e.kind} at ${e.premise} (${e.ticket})`;
    case "StormDeclared": return `⚠ storm declared: ${e.scope}`;
    case "StormStoodDown": return `storm stood down: ${e.scope}`;
    case "RuleSetChanged": return `rule set: ${e.rule_set}`;
    case "PlaybookAudit": return `playbook ${e.playbook ?? ""} ${e.what ?? e.action ?? ""}`.trim();
    default: return `${e.incident || e.device || e.ticket || ""}`;
  }
}

export class Feed {
  constructor(list) {
    this.list = list;
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
      const items = this.pending.splice(0).reverse().map(([t, e, s]) =>
        h("li", { dataset: { type: t, seq: s }, class: t }, h("small", {}, t), " ", describe(t, e)));
      this.list.prepend(...items);
      while (this.list.children.length > KEEP) this.list.lastElementChild.remove();
    });
  }
}
