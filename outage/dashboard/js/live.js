// The SSE stream and the refresh scheduler.
//
// A storm brings thousands of CallAttached events a minute, so an event never re-renders
// anything by itself: it only marks which reads are stale ("incidents", "storm", ...). A timer
// refetches each stale read at most once per its interval, one request in flight per read.

// Which reads an event makes stale (anything not listed marks the incidents and storm).
const STALE = {
  // Calls also move the engine's clock and the storm's figures (the header, the banner).
  // (and the work orders' minutes left, read at the list's cadence)
  CallAttached: ["incidents", "callrate", "storm", "restoration"],
  HazardReported: ["incidents", "callrate", "hazards", "storm"],
  ServiceTicketOpened: ["callrate", "storm"],
  CallUnresolved: ["callrate", "storm"],
  StormDeclared: ["storm", "playbooks", "callrate"],
  StormStoodDown: ["storm", "playbooks", "callrate"], // the chart's window follows the storm
  RuleSetChanged: ["storm"],
  WarningIssued: ["storm", "playbooks"],
  PlaybookAudit: ["playbooks", "sms"],
  // Work orders and crews ("restoration"); an incident's brief of its order changes with them.
  WorkOrderOpened: ["restoration", "incidents"],
  CrewStatusChanged: ["restoration", "incidents"],
  SlaEscalated: ["restoration", "incidents"],
  WorkOrderClosed: ["restoration", "incidents"],
  SubstationEtrChanged: ["restoration"],
};
const DEFAULT_STALE = ["incidents", "storm", "playbooks", "sms", "hazards", "restoration"];

// The domain event types (outage/events.py) plus the playbooks' audit events.
export const EVENT_TYPES = [
  "OutagePredicted", "PredictionMoved", "IncidentMerged", "OutageConfirmed", "CrewDispatched",
  "EtrChanged", "OutagePartiallyRestored", "OutageRestored", "IncidentStatusChanged",
  "IncidentCancelled", "CallAttached", "HazardReported", "ServiceTicketOpened", "CallUnresolved",
  "PlannedOutageScheduled", "PlannedOutageStarted", "DeviceOperated", "StormDeclared",
  "StormStoodDown", "RuleSetChanged", "WarningIssued", "WorkOrderOpened", "CrewStatusChanged",
  "SlaEscalated", "WorkOrderClosed", "SubstationEtrChanged", "PlaybookAudit",
];

// Events that are rare and worth a line in the officer's feed (not CallAttached).
const PER_CALL = ["CallAttached", "ServiceTicketOpened", "CallUnresolved", "IncidentStatusChanged"];
// Substation ETRs move with every incident ETR in a storm: the work-order panel shows them.
const QUIET = ["SubstationEtrChanged"];
const FEED = new Set(EVENT_TYPES.filter((t) => !PER_CALL.includes(t) && !QUIET.includes(t)));

export class Refresher {
  /** readers: {name: {run: async () => void, every: ms}} */
  constructor(readers) {
    this.readers = readers;
    this.stale = new Set(Object.keys(readers));
    this.last = {};
    this.busy = new Set();
    this.timer = null;
  }

  mark(...names) {
    for (const name of names) if (name in this.readers) this.stale.add(name);
  }

  start() {
    this.stop();
    this.timer = setInterval(() => this.tick(), 250);
    this.tick();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  tick() {
    const now = performance.now();
    for (const [name, reader] of Object.entries(this.readers)) {
      // Slow polling keeps quiet panels (SMS counts, chart) moving without events.
      if (reader.poll && now - (this.last[name] ?? 0) > reader.poll) this.stale.add(name);
      if (!this.stale.has(name) || this.busy.has(name)) continue;
      if (now - (this.last[name] ?? -1e9) < reader.every) continue;
      this.stale.delete(name);
      this.busy.add(name);
      this.last[name] = now;
      reader
        .run()
        .catch((error) => console.warn(`refresh ${name}:`, error.message))
        .finally(() => this.busy.delete(name));
    }
  }
}

export class LiveStream {
  /** onFeed(type, data, seq) for rare events; refresher.mark() for everything. */
  constructor(refresher, { onFeed, onState, onClosed }) {
    this.refresher = refresher;
    this.onFeed = onFeed;
    this.onState = onState;
    this.onClosed = onClosed;
    this.source = null;
    this.lastSeq = 0;
    this.counts = {};
  }

  open(after = 0) {
    this.close();
    // The browser resumes with Last-Event-ID by itself after a dropped connection.
    const url = after > 0 ? `/v1/events?after=${after}` : "/v1/events";
    const source = new EventSource(url, { withCredentials: true });
    this.source = source;
    source.onopen = () => this.onState("live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        this.onState("offline");
        this.onClosed();
      } else {
        this.onState("reconnecting");
      }
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, (e) => this.receive(type, e));
  }

  receive(type, message) {
    this.lastSeq = Number(message.lastEventId) || this.lastSeq;
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    this.refresher.mark(...(STALE[type] ?? DEFAULT_STALE));
    // Only rare events are parsed: CallAttached bursts stay cheap.
    if (FEED.has(type)) {
      try {
        this.onFeed(type, JSON.parse(message.data), this.lastSeq);
      } catch (error) {
        console.warn("bad event", type, error);
      }
    }
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
  }
}
