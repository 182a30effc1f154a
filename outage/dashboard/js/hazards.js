// The hazard queue, first on the board: every open wire-down and fire ticket with where it
// is, how long it has waited and the outage it belongs to. A hazard is a danger to people,
// not a count: it is listed oldest first and stays until its outage is over.

import { get } from "./api.js";
import { $, fmtAge, fmtTime, h } from "./dom.js";

const KIND = { wire_down: "wire down", fire: "fire" };

export class HazardQueue {
  constructor(panel, { onSelect, onLocate }) {
    this.panel = panel;
    this.onSelect = onSelect;
    this.onLocate = onLocate;
    this.open = [];
    this.list = $("#hazard-list", panel);
    this.list.addEventListener("click", (e) => {
      const link = e.target.closest("[data-incident]");
      if (link) {
        this.onSelect(link.dataset.incident);
        return;
      }
      const row = e.target.closest("li[data-ticket]");
      const hazard = row && this.open.find((x) => x.ticket === row.dataset.ticket);
      if (hazard?.point) this.onLocate(hazard);
    });
  }

  async refresh(engineTime) {
    const body = await get("/v1/hazards");
    this.hazards = body.hazards;
    this.render(body.hazards, engineTime());
  }

  /** Ages are engine time minus report time: redraw them when the engine's clock moves. */
  retime(now) {
    if (this.hazards) this.render(this.hazards, now);
  }

  render(hazards, now) {
    this.open = hazards.filter((x) => x.open).sort((a, b) => a.at.localeCompare(b.at));
    $("#hazard-count", this.panel).textContent = String(this.open.length);
    this.panel.classList.toggle("has-open", this.open.length > 0);
    if (!this.open.length) {
      this.list.replaceChildren(h("li", { class: "none" }, "No open hazard."));
      return;
    }
    this.list.replaceChildren(
      ...this.open.map((x) =>
        h("li", { dataset: { ticket: x.ticket, kind: x.kind }, title: `${x.ticket}${x.call ? ` · call ${x.call}` : ""} · click to find it on the map` },
          h("span", { class: `hz-kind ${x.kind}` }, `⚠ ${KIND[x.kind] || x.kind}`),
          h("span", { class: "hz-where" }, x.address || x.premise,
            h("small", {}, ` ${x.feeder ? x.feeder.replace("feeder.", "") : ""}`)),
          h("span", { class: "hz-age", title: `reported ${fmtTime(x.at, now)}` }, now ? fmtAge(x.at, now) : ""),
          x.incident
            ? h("button", { type: "button", class: "link", dataset: { incident: x.incident } },
                `${x.incident} ${x.incident_status ? x.incident_status.replace("_", " ") : ""}`)
            : h("span", { class: "muted" }, "no outage linked"),
        ),
      ),
    );
  }

  /** Open hazards of one incident (the restore and cancel questions name them). */
  of(incident) {
    return this.open.filter((x) => x.incident === incident);
  }

  clear() {
    this.open = [];
    this.hazards = null;
    this.list.replaceChildren();
    $("#hazard-count", this.panel).textContent = "0";
    this.panel.classList.remove("has-open");
  }
}

export const hazardKind = (kind) => KIND[kind] || kind;
