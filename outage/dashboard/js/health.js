// The service-health banner (from GET /readyz): red while the service is not ready, above all
// while an event consumer is stalled on an event. Notify stalled means customers are not being
// texted about outages the board already shows; the officer must know, and must know it ends.
//
// Rebuilt from every read, like the storm banner: it disappears with the next healthy answer.

import { $, fmtInt, fmtTime, h } from "./dom.js";

// What each consumer means to the duty officer.
const WHAT = {
  notify: "SMS to customers held up",
  playbooks: "Playbooks held up",
};

export class ServiceHealth {
  constructor(engineTime) {
    this.banner = $("#health-banner");
    this.engineTime = engineTime;
  }

  async refresh() {
    let body;
    try {
      const answer = await fetch("/readyz", { cache: "no-store" });
      body = await answer.json();
    } catch {
      body = { status: "unavailable", detail: "the service does not answer", consumers: [] };
    }
    this.render(body);
  }

  clear() {
    this.banner.hidden = true;
    this.banner.replaceChildren();
  }

  render(body) {
    const ready = body.status === "ok";
    this.banner.hidden = ready;
    if (ready) {
      this.banner.replaceChildren();
      return;
    }
    const stalled = (body.consumers || []).filter((c) => c.stalled);
    const parts = stalled.length
      ? stalled.map((c) =>
          h("span", { class: "consumer", dataset: { consumer: c.name } },
            h("b", {}, WHAT[c.name] || `${c.name} held up`),
            ` · failing on event ${c.stalled.seq} (${c.stalled.event}) since `,
            fmtTime(c.stalled.since, this.engineTime()),
            ` · ${fmtInt(c.stalled.attempts)} ${c.stalled.attempts === 1 ? "attempt" : "attempts"}, retrying · ${fmtInt(c.backlog)} waiting · `,
            h("code", {}, c.stalled.error)))
      : [h("span", { class: "detail" }, body.detail || body.status)];
    this.banner.replaceChildren(h("strong", {}, "⚠ Service degraded"), ...parts);
  }
}
