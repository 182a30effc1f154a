// The storm banner, the header totals and the rule-set selector (from GET /v1/storm).

import { post } from "./api.js";
import { $, fmtInt, fmtTime, h, toast } from "./dom.js";

export class StormStatus {
  constructor() {
    this.banner = $("#storm-banner");
    this.ruleSet = $("#rule-set");
    this.ruleSet.addEventListener("change", () => this.switchRules(this.ruleSet.value));
    this.engineTime = null;
  }

  render(storm) {
    this.engineTime = storm.engine_time;
    const system = storm.scopes.system || {};
    $("#engine-time").textContent = storm.engine_time ? `engine ${fmtTime(storm.engine_time)}` : "engine idle";
    $("#totals").replaceChildren(
      h("span", { id: "customers-out" }, `${fmtInt(system.customers_out)} out`),
      ` of ${fmtInt(system.customers_served)} · `,
      h("span", { id: "open-incidents" }, `${fmtInt(system.open_incidents)} open`),
      ` · ${fmtInt(Math.round(system.calls_per_hour || 0))} calls/h`,
    );
    if (document.activeElement !== this.ruleSet) this.ruleSet.value = storm.rule_set;
    const declared = Object.entries(storm.scopes).filter(([, s]) => s.declared);
    this.banner.hidden = declared.length === 0;
    if (!declared.length) return;
    const system_declared = storm.declared;
    this.banner.className = system_declared ? "storm system" : "storm local";
    this.banner.replaceChildren(
      h("strong", {}, system_declared ? "⚠ STORM DECLARED (system)" : "⚠ Mass outage declared"),
      ...declared.map(([scope, s]) =>
        h("span", { class: "scope", dataset: { scope } },
          `${scope}: since ${fmtTime(s.declared_at, storm.engine_time)}, ${fmtInt(s.customers_out)} of ${fmtInt(s.customers_served)} out, ` +
          `${fmtInt(s.open_incidents)} incidents, ${fmtInt(Math.round(s.calls_per_hour))} calls/h (baseline ${fmtInt(Math.round(s.baseline_per_hour))})`),
      ),
      h("span", { class: "rules" }, `rules: ${storm.rule_set}`),
    );
  }

  async switchRules(ruleSet) {
    try {
      await post("/v1/rule-set", { rule_set: ruleSet, reason: "duty officer (dashboard)" });
      toast(`rule set: ${ruleSet}`);
    } catch (error) {
      toast(`rule set: ${error.message}`, "error");
    }
  }
}
