// Wiring: sign in, draw the network, open the event stream, keep every panel fresh.

import { get, setUnauthorizedHandler } from "./api.js";
import { drawCallRate } from "./chart.js";
import { IncidentDetail } from "./detail.js";
import { $, toast } from "./dom.js";
import { Feed } from "./feed.js";
import { IncidentList } from "./incidents.js";
import { LiveStream, Refresher } from "./live.js";
import { askToSignIn, currentSession, signOut } from "./login.js";
import { NetworkMap } from "./map.js";
import { PlaybookPanel } from "./playbooks.js";
import { refreshSms } from "./sms.js";
import { StormStatus } from "./storm.js";

const params = new URLSearchParams(location.search);
const state = { incidents: [], selected: null, lastStormAt: null };

const storm = new StormStatus();
const engineTime = () => storm.engineTime;
const map = new NetworkMap($("#map"), { onSelect: select, tiles: params.get("tiles") });
const list = new IncidentList($("#incident-list"), { onSelect: select });
const detail = new IncidentDetail($("#detail"), { engineTime, onChanged: afterCommand });
const playbooks = new PlaybookPanel($("#playbooks-panel"), { engineTime, onChanged: () => refresher.mark("incidents", "sms") });
const feed = new Feed($("#feed"));

const refresher = new Refresher({
  incidents: { every: 1500, poll: 30000, run: refreshIncidents },
  storm: { every: 2000, poll: 15000, run: async () => storm.render(await get("/v1/storm")) },
  callrate: { every: 5000, poll: 30000, run: async () => drawCallRate($("#call-chart"), await get("/v1/call-rate?hours=6&bucket_minutes=5")) },
  playbooks: { every: 1000, poll: 15000, run: () => playbooks.refresh() },
  sms: { every: 3000, poll: 10000, run: () => refreshSms($("#sms-panel")) },
});

const live = new LiveStream(refresher, {
  onFeed: (type, event, seq) => feed.add(type, event, seq),
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
  map.drawIncidents(state.incidents);
  list.render(state.incidents, engineTime());
  if (state.selected) {
    const still = state.incidents.find((i) => i.id === state.selected);
    // A restored or merged incident leaves the board; its detail stays until closed.
    if (still) detail.show(still);
  }
}

async function select(id) {
  state.selected = id;
  list.select(id);
  const brief = state.incidents.find((i) => i.id === id);
  map.select(id, brief);
  if (!id) {
    detail.show(null);
    return;
  }
  try {
    detail.show(brief || (await get(`/v1/incidents/${encodeURIComponent(id)}`)));
  } catch (error) {
    toast(error.message, "error");
  }
}

function afterCommand(id, incident) {
  if (id === null) {
    select(null);
  } else if (incident) {
    detail.show({ ...state.incidents.find((i) => i.id === id), ...incident, calls: incident.calls?.length ?? incident.calls });
  }
  refresher.mark("incidents", "storm", "playbooks", "sms");
}

async function checkSession() {
  if ((await currentSession()) === null) stop("Your session ended: sign in again.");
}

function stop(message) {
  if (!$("#login").hidden) return; // already asking
  live.close();
  refresher.stop();
  askToSignIn(message).then(start);
}

async function start(who) {
  $("#who").textContent = who;
  if (!map.projection) map.drawNetwork(await get("/v1/map/network"));
  refresher.start();
  live.open();
}

setUnauthorizedHandler(() => stop("Your session ended: sign in again."));
$("#logout").addEventListener("click", async () => {
  await signOut();
  stop("Signed out.");
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") select(null);
});

(async () => {
  const who = await currentSession();
  start(who ?? (await askToSignIn()));
})();
