// Wiring: sign in, draw the network, open the event stream, keep every panel fresh — and on
// sign-out, wipe every figure from the page before the form comes back.

import { get, getOptional, setUnauthorizedHandler } from "./api.js";
import { chartWindow, drawCallRate } from "./chart.js";
import { IncidentDetail } from "./detail.js";
import { $, fmtInt, toast } from "./dom.js";
import { Feed } from "./feed.js";
import { HazardQueue } from "./hazards.js";
import { ServiceHealth } from "./health.js";
import { IncidentList } from "./incidents.js";
import { LiveStream, Refresher } from "./live.js";
import { askToSignIn, currentSession, signOut } from "./login.js";
import { NetworkMap } from "./map.js";
import { WorkOrderQueue } from "./orders.js";
import { PlaybookPanel } from "./playbooks.js";
import { SmsPanel } from "./sms.js";
import { StormStatus } from "./storm.js";

const params = new URLSearchParams(location.search);
const state = { incidents: [], openStates: ["predicted", "confirmed", "dispatched"], selected: null, orders: [], crews: [] };
// Playbook audit rows worth a line in the feed (not every action and result).
const PLAYBOOK_FEED = new Set(["proposed", "confirmed", "declined", "expired", "activated", "stood_down"]);
const ACTIVE = new Set(["predicted", "confirmed", "dispatched", "partially_restored", "scheduled"]);
// Events replayed from the journal when the page opens (the feed keeps 60 lines of them).
const BACKLOG = 2000;
const LIST_NOTES = new Set(["IncidentMerged", "PredictionMoved", "OutageRestored", "IncidentCancelled"]);
// Each crew's last status and order in the feed: a report that only moves it is not a line.
const crewLines = new Map();

const storm = new StormStatus();
const engineTime = () => storm.engineTime;
const map = new NetworkMap($("#map"), { onSelect: select, tiles: params.get("tiles"), engineTime });
const list = new IncidentList($("#incident-list"), { onSelect: select });
const hazards = new HazardQueue($("#hazards-panel"), {
  onSelect: select,
  onLocate: (hazard) => {
    map.locate(hazard.point);
    if (hazard.incident) select(hazard.incident, { zoom: false });
  },
});
const detail = new IncidentDetail($("#detail"), {
  engineTime,
  onChanged: afterCommand,
  hazardsOf: (id) => hazards.of(id),
  onSelect: select,
});
// The incident panel opens above the queue: bring it into view.
const orders = new WorkOrderQueue($("#orders-panel"), {
  onSelect: (id) => select(id).then(() => $("#detail").scrollIntoView({ block: "nearest" })),
});
const playbooks = new PlaybookPanel($("#playbooks-panel"), { engineTime, onChanged: () => refresher.mark("incidents", "sms") });
const sms = new SmsPanel($("#sms-panel"));
const feed = new Feed($("#feed"), engineTime);
const health = new ServiceHealth(engineTime);

const refresher = new Refresher({
  hazards: { every: 2000, poll: 15000, run: () => hazards.refresh(engineTime) },
  incidents: { every: 1500, poll: 30000, run: refreshIncidents },
  // Work orders and crews, at the list's cadence.
  restoration: { every: 1500, poll: 30000, run: refreshRestoration },
  storm: {
    every: 2000,
    poll: 15000,
    run: async () => {
      const before = JSON.stringify(chartWindow(engineTime(), storm.began()));
      storm.render(await get("/v1/storm"));
      hazards.retime(engineTime());
      // A storm declared or stood down changes the chart's window: redraw it with this read.
      if (JSON.stringify(chartWindow(engineTime(), storm.began())) !== before) refresher.mark("callrate");
    },
  },
  callrate: { every: 5000, poll: 30000, run: refreshChart },
  playbooks: { every: 1000, poll: 15000, run: () => playbooks.refresh() },
  sms: { every: 3000, poll: 10000, run: () => sms.refresh() },
  // Readiness: a stalled consumer (SMS, playbooks) or a journal in trouble.
  health: { every: 3000, poll: 5000, run: () => health.refresh() },
});

const live = new LiveStream(refresher, {
  onFeed: (type, event, seq) => {
    if (type === "PlaybookAudit" && !PLAYBOOK_FEED.has(event.kind)) return;
    // The engine re-estimates ETRs across a storm's queue at every change: the list and the
    // panel show them (with their source); the feed keeps the ETRs a person gave.
    if (type === "EtrChanged" && event.source === "estimated") return;
    if (type === "CrewStatusChanged") {
      const line = `${event.status} ${event.order}`;
      if (crewLines.get(event.crew) === line) return;
      crewLines.set(event.crew, line);
    }
    if (LIST_NOTES.has(type)) list.note(type, event, engineTime());
    feed.add(type, event, seq);
  },
  onState: (s) => {
    const badge = $("#live");
    badge.textContent = s;
    badge.dataset.state = s;
  },
  onClosed: () => checkSession(),
});

async function refreshIncidents() {
  const body = await get("/v1/map/incidents");
  state.incidents = body.incidents;
  state.openStates = body.open_states || state.openStates;
  map.drawIncidents(state.incidents);
  // The header's open count is the list's: one read, one definition (the service's).
  const shown = list.render(state.incidents, state.openStates, engineTime());
  $("#open-incidents").textContent = `${fmtInt(shown)} open`;
  if (state.selected) {
    const still = state.incidents.find((i) => i.id === state.selected);
    if (still) {
      detail.show({ ...detail.incident, ...still });
    } else if (detail.incident && ACTIVE.has(detail.incident.status)) {
      // It left the board (restored, merged, cancelled): say what became of it.
      const id = state.selected;
      const full = await get(`/v1/incidents/${encodeURIComponent(id)}`);
      if (state.selected === id) detail.show(full);
    }
  }
}

/** The work-order queue and the crews on the map (both hidden while their endpoint is 404). */
async function refreshRestoration() {
  const [queue, crews] = await Promise.all([getOptional("/v1/work-orders"), getOptional("/v1/crews")]);
  state.orders = queue ? queue.work_orders : [];
  state.crews = crews ? crews.crews : [];
  orders.render(queue, state.crews, engineTime());
  const drawn = map.drawCrews(state.crews, state.orders);
  $("#legend-crews").hidden = drawn === 0;
}

async function refreshChart() {
  const { hours, bucket } = chartWindow(engineTime(), storm.began());
  const body = await get(`/v1/call-rate?hours=${hours}&bucket_minutes=${bucket}`);
  drawCallRate($("#call-chart"), body);
  $("#chart-title").textContent = `Calls per ${bucket} min, last ${hours} h`;
}

async function select(id, { zoom = true } = {}) {
  state.selected = id;
  list.select(id);
  orders.select(id);
  const brief = state.incidents.find((i) => i.id === id);
  map.select(id, zoom ? brief : null);
  if (!id) {
    detail.show(null);
    return;
  }
  if (brief) detail.show(brief);
  try {
    // The full incident (its timeline, where a merged one went); counts stay counts.
    const full = await get(`/v1/incidents/${encodeURIComponent(id)}`);
    if (state.selected === id) detail.show({ ...brief, ...full });
  } catch (error) {
    toast(error.message, "error");
  }
}

function afterCommand(id, incident) {
  if (id === null) {
    select(null);
  } else if (incident) {
    detail.show({ ...state.incidents.find((i) => i.id === id), ...incident });
  }
  refresher.mark("incidents", "storm", "playbooks", "sms", "hazards", "restoration");
}

async function checkSession() {
  if ((await currentSession()) === null) stop("Your session ended: sign in again.");
}

/** Nothing the last officer saw stays readable behind the form. */
function wipe() {
  state.incidents = [];
  state.selected = null;
  map.clearIncidents();
  state.orders = [];
  state.crews = [];
  crewLines.clear();
  list.clear();
  orders.clear();
  $("#legend-crews").hidden = true;
  hazards.clear();
  detail.show(null);
  storm.clear();
  playbooks.clear();
  sms.clear();
  health.clear();
  feed.clear();
  $("#call-chart").replaceChildren();
  $("#who").textContent = "";
  document.body.classList.add("signed-out");
}

function stop(message) {
  if (!$("#login").hidden) return; // already asking
  live.close();
  refresher.stop();
  wipe();
  askToSignIn(message).then(start);
}

async function start(who) {
  document.body.classList.remove("signed-out");
  $("#who").textContent = who;
  // The zone first: every time on the page is shown in it.
  const now = await get("/v1/storm");
  storm.render(now);
  if (!map.projection) map.drawNetwork(await get("/v1/map/network"));
  refresher.start();
  // From just before the tail, not the whole journal: enough for the feed and the list's trace.
  live.open(Math.max(0, (now.last_event || 0) - BACKLOG));
}

setUnauthorizedHandler(() => stop("Your session ended: sign in again."));
$("#logout").addEventListener("click", async () => {
  await signOut();
  stop("Signed out.");
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("#ask").open) select(null);
});

(async () => {
  const who = await currentSession();
  if (who === null) document.body.classList.add("signed-out");
  start(who ?? (await askToSignIn()));
})();
