// Playbooks: proposals to confirm or decline, active playbooks with their next steps and a
// stand-down button. The panel stays hidden while the service has no /v1/playbooks (404).

import { getOptional, post } from "./api.js";
import { $, fmtTime, h, toast } from "./dom.js";

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
    $("#proposals", this.panel).replaceChildren(
      h("h3", {}, `Proposed (${proposals.length})`),
      ...proposals.map((p) =>
        h("div", { class: "proposal", dataset: { id: p.id, playbook: p.playbook } },
          h("strong", {}, p.title || p.playbook),
          h("p", {}, p.reason, h("small", {}, ` · proposed ${fmtTime(p.at, now)}, expires ${fmtTime(p.expires, now)}`)),
          h("div", { class: "row" },
            h("button", { type: "button", class: "confirm", onclick: () => this.act("confirm", `/v1/playbooks/proposals/${encodeURIComponent(p.id)}/confirm`) }, "Confirm"),
            h("button", { type: "button", class: "decline secondary", onclick: () => this.decline(p) }, "Decline"),
          ),
        ),
      ),
    );
    $("#activations", this.panel).replaceChildren(
      h("h3", {}, `Active (${active.length})`),
      ...active.map((a) =>
        h("div", { class: "activation", dataset: { id: a.activation, playbook: a.playbook } },
          h("strong", {}, a.title || a.playbook),
          h("small", {}, ` since ${fmtTime(a.since, now)}`),
          h("ul", { class: "steps" }, (a.next_steps || []).map((s) => h("li", {}, `${fmtTime(s.at, now)} ${s.step}`))),
          h("button", { type: "button", class: "stand-down secondary", onclick: () => this.act("stand down", `/v1/playbooks/activations/${encodeURIComponent(a.activation)}/stand-down`) }, "Stand down"),
        ),
      ),
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
}
