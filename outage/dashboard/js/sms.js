// SMS: what was decided and where it stands, how fast the queue drains, and how much of it is
// playbook announcements (an area push texts every customer there) rather than per-outage
// texts. Hidden while the service has no /v1/notify/stats.

import { getOptional } from "./api.js";
import { fmtInt, h } from "./dom.js";

const FIELDS = ["decided", "queued", "sent", "delivered", "failed", "suppressed"];
const WINDOW_MS = 60_000;

export class SmsPanel {
  constructor(panel) {
    this.panel = panel;
    this.samples = []; // [wall ms, sent] — the send rate as the officer sees it
  }

  async refresh() {
    const stats = await getOptional("/v1/notify/stats");
    this.panel.hidden = stats === null;
    if (stats) this.render(stats, performance.now());
  }

  render(stats, now) {
    this.panel.querySelector("dl").replaceChildren(
      ...FIELDS.flatMap((name) => [
        h("dt", {}, name),
        h("dd", { dataset: { field: name }, class: name === "failed" && stats[name] ? "warn" : null }, fmtInt(stats[name] ?? 0)),
      ]),
    );
    this.samples.push([now, stats.sent ?? 0]);
    while (this.samples.length > 2 && now - this.samples[1][0] > WINDOW_MS) this.samples.shift();
    const [t0, s0] = this.samples[0];
    const perMinute = now - t0 > 2000 ? ((stats.sent - s0) / (now - t0)) * 60_000 : null;
    const queued = stats.queued ?? 0;
    const rate = this.panel.querySelector("#sms-rate");
    let drain;
    if (!queued) drain = "queue empty";
    else if (perMinute === null) drain = `${fmtInt(queued)} queued`;
    else if (perMinute < 1) drain = `${fmtInt(queued)} queued, none sent in the last minute (held for quiet hours, or the provider is not taking them)`;
    else drain = `queue of ${fmtInt(queued)} drains in about ${fmtMinutes(queued / perMinute)}`;
    rate.replaceChildren(
      perMinute !== null ? h("span", { id: "sms-per-minute" }, `sending ${fmtInt(Math.round(perMinute))}/min`) : "",
      stats.rate_per_second ? h("small", {}, ` (provider limit ${fmtInt(stats.rate_per_second)}/s)`) : "",
      perMinute !== null || stats.rate_per_second ? " · " : "",
      h("span", { id: "sms-drain" }, drain),
    );
    const pushes = stats.playbook_pushes || {};
    const pushed = Object.values(pushes).reduce((a, b) => a + b, 0);
    this.panel.querySelector("#sms-sources").replaceChildren(
      ...(stats.decided
        ? [
            h("span", { id: "sms-playbook-share" }, `${fmtInt(pushed)} of ${fmtInt(stats.decided)} are playbook announcements`),
            pushed ? h("small", {}, ` (${Object.entries(pushes).sort((a, b) => b[1] - a[1]).map(([p, n]) => `${p} ${fmtInt(n)}`).join(", ")})`) : "",
            `; ${fmtInt(Math.max(0, stats.decided - pushed))} about single outages`,
          ]
        : []),
    );
  }

  clear() {
    this.samples = [];
    this.panel.querySelector("dl").replaceChildren();
    this.panel.querySelector("#sms-rate").replaceChildren();
    this.panel.querySelector("#sms-sources").replaceChildren();
    this.panel.hidden = true;
  }
}

function fmtMinutes(minutes) {
  if (minutes < 1) return "under a minute";
  if (minutes < 90) return `${Math.round(minutes)} min`;
  return `${Math.floor(minutes / 60)} h ${Math.round(minutes % 60)} min`;
}
