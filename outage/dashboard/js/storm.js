// The storm banner, the header totals and the rule-set selector (from GET /v1/storm).
//
// The banner shows every scope the engine has declared and disappears the moment the last
// one stands down: it is rebuilt from the read on every refresh, never kept from an event.

import { post } from "./api.js";
import { $, ask, fmtInt, fmtTime, h, setZone, toast, zoneAbbr, zoneName } from "./dom.js";

export class StormStatus {
  constructor() {
    this.banner = $("#storm-banner");
    this.ruleSet = $("#rule-set");
    this.ruleSet.addEventListener("change", () => this.switchRules(this.ruleSet.value));
    this.toggle = $("#storm-toggle");
    this.toggle.addEventListener("click", () => this.declare(!(this.last && this.last.declared)));
    this.engineTime = null;
    this.last = null;
  }

  render(storm) {
    this.last = storm;
    setZone(storm.timezone);
    this.engineTime = storm.engine_time;
    const system = storm.scopes.system || {};
    $("#engine-time").textContent = storm.engine_time
      ? `engine ${fmtTime(storm.engine_time, storm.engine_time)} ${zoneAbbr(storm.engine_time)}`
      : "engine idle";
    $("#engine-time").title = `Engine (event) time, in the utility's zone ${zoneName()}`;
    $("#customers-out").textContent = `${fmtInt(system.customers_out)} out`;
    $("#customers-served").textContent = ` of ${fmtInt(system.customers_served)}`;
    $("#calls-per-hour").textContent = `${fmtInt(Math.round(system.calls_per_hour || 0))} calls/h`;
    if (document.activeElement !== this.ruleSet) this.ruleSet.value = storm.rule_set;
    this.toggle.textContent = storm.declared ? "Stand down storm" : "Declare storm";
    const declared = Object.entries(storm.scopes).filter(([, s]) => s.declared);
    this.banner.hidden = declared.length === 0;
    if (!declared.length) {
      this.banner.replaceChildren();
      return;
    }
    const systemDeclared = storm.declared;
    this.banner.className = systemDeclared ? "storm system" : "storm local";
    // Substations first by customers out: the worst area is read first.
    declared.sort(([a, x], [b, y]) => (a === "system" ? -1 : b === "system" ? 1 : y.customers_out - x.customers_out));
    this.banner.replaceChildren(
      h("strong", {}, systemDeclared ? "⚠ STORM DECLARED" : "⚠ Mass outage declared"),
      ...declared.map(([scope, s]) => {
        const multiple = s.baseline_per_hour > 0 ? s.calls_per_hour / s.baseline_per_hour : 0;
        return h("span", { class: "scope", dataset: { scope } },
          h("b", {}, scope.replace("substation.", "")),
          ` since ${fmtTime(s.declared_at, storm.engine_time)} · `,
          h("span", { class: "scope-out" }, `${fmtInt(s.customers_out)} of ${fmtInt(s.customers_served)} out`),
          ` · ${fmtInt(s.open_incidents)} open · ${fmtInt(Math.round(s.calls_per_hour))} calls/h`,
          multiple >= 2 ? h("small", {}, ` (${Math.round(multiple)}× normal)`) : null);
      }),
      h("span", { class: "rules" }, `rules: ${storm.rule_set}`),
    );
  }

  /** Where the storm began (for the chart's window): the earliest declaration still in view. */
  began() {
    const storm = this.last;
    if (!storm) return null;
    const times = [
      ...Object.values(storm.scopes).map((s) => s.declared_at),
      ...(storm.history || []).map((x) => x.declared),
    ].filter(Boolean).map((t) => Date.parse(t));
    return times.length ? Math.min(...times) : null;
  }

  clear() {
    this.last = null;
    this.engineTime = null;
    this.banner.hidden = true;
    this.banner.replaceChildren();
    for (const id of ["#customers-out", "#customers-served", "#calls-per-hour", "#open-incidents", "#engine-time"]) {
      $(id).textContent = "";
    }
  }

  /** The officer's own call: declare (or stand down) a system-wide storm, after a confirm. */
  async declare(on) {
    const system = (this.last && this.last.scopes.system) || {};
    const yes = await ask({
      title: on ? "Declare a system-wide storm?" : "Stand the system-wide storm down?",
      lines: [
        `${fmtInt(system.customers_out)} of ${fmtInt(system.customers_served)} customers out now.`,
        on
          ? "The engine switches to the storm priors and playbooks see a declared storm. It stands down by itself once every figure has been clear for the hold time."
          : "The engine goes back to the normal priors; detection may declare again if the figures cross the thresholds.",
      ],
      confirm: on ? "Declare storm" : "Stand down",
      cancel: "Keep as is",
    });
    if (!yes) return;
    try {
      const answer = await post("/v1/storm", { storm: on ? "declare" : "stand_down", reason: "duty officer (dashboard)" });
      toast(`storm: ${answer.events.map((e) => e.type).join(", ") || "no change"}`);
    } catch (error) {
      toast(`storm: ${error.message}`, "error");
    }
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
