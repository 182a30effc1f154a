// SMS counters from GET /v1/notify/stats; hidden while the service has no such endpoint.

import { getOptional } from "./api.js";
import { fmtInt, h } from "./dom.js";

const FIELDS = ["decided", "queued", "sent", "delivered", "failed", "suppressed"];

export async function refreshSms(panel) {
  const stats = await getOptional("/v1/notify/stats");
  panel.hidden = stats === null;
  if (!stats) return;
  panel.querySelector("dl").replaceChildren(
    ...FIELDS.flatMap((name) => [
      h("dt", {}, name),
      h("dd", { dataset: { field: name }, class: name === "failed" && stats[name] ? "warn" : null }, fmtInt(stats[name] ?? 0)),
    ]),
  );
}
