// Playbooks: proposals to confirm or decline (with what they would do), active playbooks with
// why they fired, who was told and paged, the hotline's staffing against who is there, what
// each next step will do and when it stands down by itself. Hidden while the service has no
// /v1/playbooks (404).

import { getOptional, post } from "./api.js";
import { $, fmtInt, fmtTime, h, toast } from "./dom.js";

export class PlaybookPanel {
  constructor(panel, { engineTime, onChanged }) {
    this.panel = panel;
    this.engineTime = engineTime;
    this.onChanged = onChanged;
  }

  async refresh() {
    const body = await getOptional("/v1/playbooks");
    this.panel.hidden = body === null;
    if (body) this.render(body);
  }

  render({ proposals = [], active = [] }) {
    const now = this.engineTime();
    $("#playbook-count", this.panel).textContent = active.length ? `${active.length} active` : "none active";
    $("#proposals", this.panel).replaceChildren(
      ...(proposals.length ? [h("h3", {}, `Waiting for you (${proposals.length})`)] : []),
      ...proposals.map((p) =>
        h("div", { class: "proposal", dataset: { id: p.id, playbook: p.playbook } },
          h("strong", {}, p.title || p.playbook),
          h("p", {}, h("b", {}, "Why: "), p.reason),
          h("ul", { class: "does" }, (p.does || []).map((d) => h("li", {}, d))),
          h("p", {}, h("small", {}, `proposed ${fmtTime(p.at, now)}, expires ${fmtTime(p.expires, now)}`)),
          h("div", { class: "row" },
            h("button", { type: "button", class: "confirm", onclick: () => this.act("confirm", `/v1/playbooks/proposals/${encodeURIComponent(p.id)}/confirm`) }, "Confirm"),
            h("button", { type: "button", class: "decline secondary", onclick: () => this.decline(p) }, "Decline"),
          ),
        ),
      ),
    );
    $("#activations", this.panel).replaceChildren(
      ...active.map((a) => this.activation(a, now)),
    );
  }

  activation(a, now) {
    const staffing = a.staffing;
    const there = staffing ? staffing.on_shift + staffing.called_in : null;
    const gap = staffing ? staffing.positions - there : 0;
    const told = (a.told || []).map((t) => `${t.roles.join(", ")} (${t.channel})`).join("; ");
    return h("div", { class: "activation", dataset: { id: a.activation, playbook: a.playbook } },
      h("div", { class: "row" },
        h("strong", {}, a.title || a.playbook),
        h("small", { class: "muted" }, ` since ${fmtTime(a.since, now)}${a.by && a.by !== "automatic" ? ` (confirmed by ${a.by})` : ""}`),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "stand-down secondary", onclick: () => this.act("stand down", `/v1/playbooks/activations/${encodeURIComponent(a.activation)}/stand-down`) }, "Stand down"),
      ),
      a.reason ? h("p", { class: "why" }, h("b", {}, "Why: "), a.reason) : null,
      staffing
        ? h("div", { class: `staffing${gap > 0 ? " short" : ""}`, dataset: { positions: staffing.positions, there } },
            h("span", { class: "big" }, fmtInt(staffing.positions)), " positions needed · ",
            h("span", { class: "big" }, fmtInt(there)), ` there (${fmtInt(staffing.on_shift)} on shift + ${fmtInt(staffing.called_in)} called in)`,
            gap > 0 ? h("span", { class: "gap" }, ` · short by ${fmtInt(gap)} — standby roster exhausted`) : h("span", { class: "ok" }, " · covered"),
            h("small", { class: "muted" }, ` (forecast ${fmtInt(Math.round(staffing.forecast_calls))} calls per ${staffing.interval_minutes} min, at ${fmtTime(staffing.at, now)})`))
        : null,
      a.paged?.length ? h("p", {}, h("b", {}, "Paged: "), a.paged.join(", ")) : null,
      told ? h("p", {}, h("b", {}, "Told: "), told) : null,
      h("ul", { class: "steps" },
        (a.next_steps || []).map((s) =>
          h("li", {}, h("b", {}, fmtTime(s.at, now)), " ", (s.does && s.does.length ? s.does : [s.step]).join("; ")))),
      h("p", { class: "stand-down-when" }, h("small", {}, a.stand_down?.at
        ? `condition clear since ${fmtTime(a.stand_down.clear_since, now)}: stands down by itself at ${fmtTime(a.stand_down.at, now)}`
        : `stands down by itself once its condition has been clear for ${fmtInt(a.stand_down?.clear_for_minutes)} min`)),
    );
  }

  decline(proposal) {
    const reason = window.prompt(`Decline "${proposal.title || proposal.playbook}": why?`, "not needed");
    if (reason === null) return;
    this.act("decline", `/v1/playbooks/proposals/${encodeURIComponent(proposal.id)}/decline`, { reason });
  }

  async act(label, path, body) {
    for (const button of this.panel.querySelectorAll("button")) button.disabled = true;
    try {
      await post(path, body);
      toast(`playbook ${label}: done`);
    } catch (error) {
      toast(`playbook ${label}: ${error.message}`, "error");
    }
    await this.refresh().catch(() => {});
    this.onChanged();
  }

  clear() {
    $("#proposals", this.panel).replaceChildren();
    $("#activations", this.panel).replaceChildren();
    this.panel.hidden = true;
  }
}
