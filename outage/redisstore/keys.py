"""Every Redis key template and Lua script of the Redis backend, in one place.

Keys of one partition (a substation, or ``system``) carry the partition in a hash tag —
``outage:{substation.s001}:signals`` — so they share one Redis Cluster slot and a Lua script can
touch all of them atomically. The global event feed has its own tag (``{events}``).

Per partition ``P`` (the partition's stream is its journal: never trimmed)::

    outage:{P}:signals     stream   accepted signals and commands (fields: id, body)
    outage:{P}:seen        set      message ids accepted (intake dedup)
    outage:{P}:applied     string   stream id of the last message whose effects are written
    outage:{P}:owner       string   lease: token of the engine worker that owns P (PX ttl)
    outage:{P}:events      stream   domain events P's engine emitted (fields: type, body, msg)
    outage:{P}:open        hash     asset id -> open incident id            (IVR)
    outage:{P}:summary     hash     incident -> IncidentSummary JSON        (IVR, public)
    outage:{P}:scheduled   hash     device id -> JSON list of planned incident ids (IVR)
    outage:{P}:incidents   hash     incident -> brief JSON                  (officer lists, map)
    outage:{P}:detail      hash     incident -> full JSON with calls, hazards, commands
    outage:{P}:storm       string   storm status of P's scopes (JSON)
    outage:{P}:stats       hash     counters (calls_received, suppressed, signals_applied, ...)
    outage:{P}:calls       hash     epoch minute (event time) -> calls
    outage:{P}:outcome     hash     command id -> outcome JSON (applied / refused / rejected)

Global::

    outage:{events}:stream   stream  every event once, ids ``<seq>-0`` (seq = SSE id)
    outage:{events}:seq      string  last seq given
    outage:{events}:relayed  hash    partition -> last partition event id copied to the stream
    outage:{workers}:alive   hash    worker name -> last heartbeat (ms), for fair shares
    outage:{effects}:owner   string  lease: the one `outage serve` that sends SMS and runs
                                     playbooks (token ``host-pid:uuid``, PX ttl)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: The partition of signals that name no substation (warnings, callers we cannot place).
SYSTEM_PARTITION = "system"
#: The consumer group every engine worker reads partition streams through.
GROUP = "engine"
#: Projection keys an apply step writes, in KEYS order after owner, applied and events.
PROJECTION = (
    "open",
    "summary",
    "scheduled",
    "incidents",
    "detail",
    "storm",
    "stats",
    "calls",
    "outcome",
)


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    """The keys of one partition (all in one Cluster slot)."""

    partition: str
    signals: str
    seen: str
    applied: str
    owner: str
    events: str
    open: str
    summary: str
    scheduled: str
    incidents: str
    detail: str
    storm: str
    stats: str
    calls: str
    outcome: str

    @property
    def projection(self) -> tuple[str, ...]:
        """Keys an apply step may write, in `APPLY` KEYS order after owner/applied/events."""
        return tuple(getattr(self, name) for name in PROJECTION)


#: Index (1-based, as Lua sees KEYS) of each projection key in an `APPLY` call.
KEY_INDEX = {name: 4 + i for i, name in enumerate(PROJECTION)}


@dataclass(frozen=True, slots=True)
class Keyspace:
    """Key names under one prefix (tests use a unique prefix each; production ``outage``)."""

    prefix: str = "outage"

    def partition(self, partition: str) -> PartitionKeys:
        """The keys of ``partition``."""
        if not partition or any(c in partition for c in "{}"):
            raise ValueError(f"partition: {partition!r} is not a valid partition name")
        base = f"{self.prefix}:{{{partition}}}:"
        names = [f.name for f in fields(PartitionKeys)][1:]
        return PartitionKeys(partition, *(base + n for n in names))

    @property
    def events_stream(self) -> str:
        """The global event feed."""
        return f"{self.prefix}:{{events}}:stream"

    @property
    def events_seq(self) -> str:
        """The global event sequence counter."""
        return f"{self.prefix}:{{events}}:seq"

    @property
    def events_relayed(self) -> str:
        """Per partition, the last partition event copied to the global feed."""
        return f"{self.prefix}:{{events}}:relayed"

    @property
    def effects_owner(self) -> str:
        """Lease of the one API process that runs notify and playbooks."""
        return f"{self.prefix}:{{effects}}:owner"

    @property
    def workers(self) -> str:
        """Worker heartbeats."""
        return f"{self.prefix}:{{workers}}:alive"


# -- Lua ------------------------------------------------------------------------------------

#: Intake: accept each (id, body) unless its id was seen — SADD and XADD in one atomic step, so
#: a resend after a timeout is reported as a duplicate and never applied twice.
#: KEYS: seen, signals. ARGV: id1, body1, id2, body2, ... Returns the stream id or nil each.
INTAKE = """
local out = {}
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    out[#out + 1] = redis.call('XADD', KEYS[2], '*', 'id', ARGV[i], 'body', ARGV[i + 1])
  else
    out[#out + 1] = false
  end
end
return out
"""

#: Apply: write a batch's events, projection changes and the new ``applied`` id in one atomic
#: step, fenced by the lease token and the ``applied`` id the worker last saw — a worker whose
#: lease expired (paused, partitioned) cannot write over its successor, and a batch is never
#: written twice.
#: KEYS: owner, applied, events, then the `PartitionKeys.projection` keys.
#: ARGV: token, expected applied ('' = none), new applied, payload JSON:
#:   {"x": [[type, body, msg]], "h": [[key, field, value]], "d": [[key, field]],
#:    "i": [[key, field, n]], "s": [[key, value]]}   (key = index into KEYS)
#: Returns the ids of the events written.
APPLY = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASE partition lease lost')
end
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[2] then
  return redis.error_reply('APPLIED expected ' .. ARGV[2] .. ' found ' .. current)
end
local p = cjson.decode(ARGV[4])
local ids = {}
for _, e in ipairs(p.x) do
  ids[#ids + 1] = redis.call('XADD', KEYS[3], '*', 'type', e[1], 'body', e[2], 'msg', e[3])
end
for _, h in ipairs(p.h) do redis.call('HSET', KEYS[h[1]], h[2], h[3]) end
for _, d in ipairs(p.d) do redis.call('HDEL', KEYS[d[1]], d[2]) end
for _, i in ipairs(p.i) do redis.call('HINCRBY', KEYS[i[1]], i[2], i[3]) end
for _, s in ipairs(p.s) do redis.call('SET', KEYS[s[1]], s[2]) end
redis.call('SET', KEYS[2], ARGV[3])
return ids
"""

#: Relay: copy a partition's events to the global feed exactly once (the cursor moves in the
#: same step), numbering them with the global sequence the SSE stream uses as event ids.
#: KEYS: relayed, seq, stream. ARGV: partition, then (partition event id, type, body) triples.
RELAY = """
local function le(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as <= bs)
end
local cursor = redis.call('HGET', KEYS[1], ARGV[1]) or '0-0'
local n = 0
for i = 2, #ARGV, 3 do
  if not le(ARGV[i], cursor) then
    local seq = redis.call('INCR', KEYS[2])
    redis.call('XADD', KEYS[3], seq .. '-0', 'type', ARGV[i + 1], 'body', ARGV[i + 2],
               'part', ARGV[1], 'pid', ARGV[i])
    cursor = ARGV[i]
    n = n + 1
  end
end
redis.call('HSET', KEYS[1], ARGV[1], cursor)
return n
"""

#: Fenced read: deliver new entries only to the lease holder, so a worker whose lease expired
#: cannot take entries the new owner would then never see (they would sit in its pending list
#: while the owner moved ``applied`` past them). KEYS: owner, signals.
#: ARGV: token, group, consumer, count. Returns XREADGROUP's reply (nil when nothing new).
READ = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASE partition lease lost')
end
return redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4],
                  'STREAMS', KEYS[2], '>')
"""

#: Lease renewal / release: only the holder's token may extend or drop it.
#: KEYS: owner. ARGV: token, ttl ms (0 = release). Returns 1 when done, 0 when not ours.
LEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) == 0 then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

#: IVR: the outermost open incident over a premise and the planned work above it, in one
#: round trip. KEYS: open, summary, scheduled. ARGV: transformer id, then its devices nearest
#: first. Returns {covering summary JSON or nil, scheduled summary JSON...}.
COVERING = """
local hits = redis.call('HMGET', KEYS[1], unpack(ARGV))
local found = false
for i = 1, #ARGV do
  if hits[i] then found = hits[i] end
end
local out = {false}
if found then out[1] = redis.call('HGET', KEYS[2], found) end
if #ARGV > 1 then
  local planned = redis.call('HMGET', KEYS[3], unpack(ARGV, 2))
  for i = 1, #planned do
    if planned[i] then
      for _, id in ipairs(cjson.decode(planned[i])) do
        local s = redis.call('HGET', KEYS[2], id)
        if s then out[#out + 1] = s end
      end
    end
  end
end
return out
"""
