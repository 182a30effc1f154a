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
    outage:{P}:outcome     hash     command id -> outcome JSON (applied / refused / rejected /
                                    quarantined)
    outage:{P}:quarantine  hash     message id -> {id, type, reason, entry} of a message the
                                    engine failed on: never applied again (not on replay)
    outage:{P}:digests     hash     message id -> content digest (intake: a reused id with other
                                    content is a conflict, not a duplicate)
    outage:{P}:restoration string   work orders, crews, substation ETRs, follow-ups (JSON)
    outage:{P}:history     hash     asset id -> its outage records JSON, flag:<transformer> ->
                                    when flagged frequent (the IVR's "again?")

Global::

    outage:{events}:stream   stream  every event once, ids ``<seq>-0`` (seq = SSE id)
    outage:{events}:seq      string  last seq given
    outage:{events}:relayed  hash    partition -> last partition event id copied to the stream
    outage:{workers}:alive   hash    worker name -> last heartbeat (ms), for fair shares
    outage:{effects}:owner   string  lease: the one `outage serve` that sends SMS and runs
                                     playbooks (token ``host-pid:uuid``, PX ttl)
    outage:{storm}:system    hash    the system-wide storm decision over every partition's
                                     figures (`storm.SystemStorm`): generation, declared_at,
                                     clear_since, command (the decision's command JSON),
                                     delivered (the generation every partition was sent)
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
    "quarantine",
    "restoration",
    "history",
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
    quarantine: str
    digests: str
    restoration: str
    history: str

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
    def system_storm(self) -> str:
        """The system-wide storm decision (`storm.SystemStorm`)."""
        return f"{self.prefix}:{{storm}}:system"

    @property
    def workers(self) -> str:
        """Worker heartbeats."""
        return f"{self.prefix}:{{workers}}:alive"


# -- Lua ------------------------------------------------------------------------------------

#: Intake: accept each (id, body, digest) unless its id was seen — SADD, the digest and XADD in
#: one atomic step, so a resend after a timeout is reported as a duplicate and never applied
#: twice, and the same id with other content is told apart as a conflict.
#: KEYS: seen, signals, digests. ARGV: id1, body1, digest1, id2, ... Returns for each the stream
#: id, nil (a duplicate) or 'conflict' (seen with another digest; ids accepted before digests
#: were kept count as duplicates).
INTAKE = """
local out = {}
for i = 1, #ARGV, 3 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
    out[#out + 1] = redis.call('XADD', KEYS[2], '*', 'id', ARGV[i], 'body', ARGV[i + 1])
  else
    local known = redis.call('HGET', KEYS[3], ARGV[i])
    if known and known ~= ARGV[i + 2] then
      out[#out + 1] = 'conflict'
    else
      out[#out + 1] = false
    end
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
#: round trip. KEYS: open, summary, scheduled. ARGV: the premise's service key, its transformer
#: id, then its devices nearest first (`partition.premise_chain`). Returns {covering summary
#: JSON or nil, scheduled summary JSON...}.
COVERING = """
local hits = redis.call('HMGET', KEYS[1], unpack(ARGV))
local found = false
for i = 1, #ARGV do
  if hits[i] then found = hits[i] end
end
local out = {false}
if found then out[1] = redis.call('HGET', KEYS[2], found) end
if #ARGV > 2 then
  local planned = redis.call('HMGET', KEYS[3], unpack(ARGV, 3))
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


# -- notify and playbooks (the one effects process) -----------------------------------------
#
# notify's store (`notify.redis_store.RedisNotifyStore`) and the playbook job store
# (`playbooks.scheduler.LiveScheduler.redis`). Every notify key carries the ``{notify}`` hash
# tag and every job-store key ``{playbooks}``, so each store lives in one Cluster slot and a
# Lua step may touch any of its keys (the per-message and per-incident names below are built
# inside the scripts from the base ``PREFIX:{notify}:``)::
#
#     P:{notify}:meta          hash    high_water
#     P:{notify}:incidents     hash    incident -> notify's projection row (JSON)
#     P:{notify}:log:<inc>     hash    "kind|phone" -> [digest, outbox key, at] (JSON)
#     P:{notify}:inc:<inc>     hash    outbox key -> "kind|language|phone" (the incident's texts)
#     P:{notify}:msg:<key>     hash    one outbox row (the columns of SqliteStore's outbox + n)
#     P:{notify}:status        hash    outbox key -> status (the one place a status lives)
#     P:{notify}:counts        hash    status -> rows
#     P:{notify}:order         zset    outbox key by n (insertion order, for `rows`)
#     P:{notify}:serial        string  last n given (16-digit zero-padded in rows and members)
#     P:{notify}:prios         zset    priorities with a pending queue (score = priority)
#     P:{notify}:pending:<p>   zset    "n|key" by not_before: the due queue of priority p
#     P:{notify}:sending       zset    outbox key by wall-clock claim time (crash recovery)
#     P:{notify}:provider      hash    provider id -> outbox keys ("\n"-joined), for receipts
#     P:{notify}:consent       hash    phone -> [state, at, source] (JSON)
#     P:{notify}:inbound       hash    message id -> {phone, text, at, reply} (JSON)
#     P:{notify}:lock          string  decision lock: token of the deciding store (PX ttl)
#     P:{playbooks}:jobs       hash    APScheduler RedisJobStore: job id -> pickled job
#     P:{playbooks}:run_times  zset    APScheduler RedisJobStore: job id by next run time
#     P:{playbooks}:audit      list    the runner's audit rows (JSON; seq = position + 1)
#     P:{playbooks}:state      string  the runner's state document (JSON)


@dataclass(frozen=True, slots=True)
class NotifyKeys:
    """notify's keys under one prefix (the same prefix as the `Keyspace` of that system)."""

    prefix: str = "outage"

    @property
    def base(self) -> str:
        """What every notify key starts with; the scripts' first argument."""
        return f"{self.prefix}:{{notify}}:"

    def __getattr__(self, name: str) -> str:
        if name in NOTIFY_FIXED:
            return self.base + name
        raise AttributeError(name)

    def log(self, incident: str) -> str:
        """The notification log of ``incident``."""
        return f"{self.base}log:{incident}"

    def inc(self, incident: str) -> str:
        """The outbox keys of ``incident``."""
        return f"{self.base}inc:{incident}"

    def msg(self, key: str) -> str:
        """One outbox row."""
        return f"{self.base}msg:{key}"

    def pending(self, priority: int | str) -> str:
        """The due queue of ``priority``."""
        return f"{self.base}pending:{priority}"


#: The fixed notify keys (``NotifyKeys(prefix).meta`` ...).
NOTIFY_FIXED = (
    "meta",
    "incidents",
    "status",
    "counts",
    "order",
    "serial",
    "prios",
    "sending",
    "provider",
    "consent",
    "inbound",
    "lock",
)


@dataclass(frozen=True, slots=True)
class PlaybookKeys:
    """The playbook runner's keys: APScheduler's `RedisJobStore`, the audit log, the state."""

    prefix: str = "outage"

    @property
    def jobs(self) -> str:
        """Job id -> pickled job state."""
        return f"{self.prefix}:{{playbooks}}:jobs"

    @property
    def run_times(self) -> str:
        """Job id by next run time."""
        return f"{self.prefix}:{{playbooks}}:run_times"

    @property
    def audit(self) -> str:
        """The audit log."""
        return f"{self.prefix}:{{playbooks}}:audit"

    @property
    def state(self) -> str:
        """The runner's state document."""
        return f"{self.prefix}:{{playbooks}}:state"


#: Shared by the notify scripts: ARGV[1] is `NotifyKeys.base`. ``set_status`` moves one
#: outbox row to a new status and keeps counts, the due queues and the sending set in step.
NOTIFY_LIB = r"""
local base = ARGV[1]
local function msg(k) return base .. 'msg:' .. k end
local function set_status(k, new, at)
  local status, counts = base .. 'status', base .. 'counts'
  local old = redis.call('HGET', status, k)
  local row = msg(k)
  local meta = redis.call('HMGET', row, 'n', 'priority')
  local member, p = meta[1] .. '|' .. k, meta[2]
  if old == 'pending' then redis.call('ZREM', base .. 'pending:' .. p, member) end
  if old == 'sending' then redis.call('ZREM', base .. 'sending', k) end
  if old then redis.call('HINCRBY', counts, old, -1) end
  redis.call('HSET', status, k, new)
  redis.call('HINCRBY', counts, new, 1)
  if new == 'pending' then
    redis.call('ZADD', base .. 'pending:' .. p, redis.call('HGET', row, 'not_before'), member)
    redis.call('ZADD', base .. 'prios', p, p)
  elseif new == 'sending' then
    redis.call('ZADD', base .. 'sending', at, k)
  end
end
local function locked()
  local holder = redis.call('GET', KEYS[1])
  return holder and holder ~= ARGV[2]
end
"""

#: Commit one decision: its outbox rows, log rows, projection rows and the new high-water
#: mark in one atomic step, fenced by the decision lock (a decider whose lock lapsed writes
#: nothing). Releases the lock. KEYS: lock. ARGV: base, token, ops JSON (all strings):
#:   ["E", key, phone, account, incident, kind, language, body, encoding, segments, priority,
#:    not_before, created]  enqueue unless the key exists
#:   ["L", incident, "kind|phone", value] / ["D", incident, "kind|phone"]  log set / delete
#:   ["S", key] supersede if pending    ["B", key, body] rewrite if pending
#:   ["M", incident, into] fold log (keeping into's entries) and outbox rows into ``into``
#:   ["P", incident, row JSON] projection   ["H", seq] high-water mark
NOTIFY_COMMIT = (
    NOTIFY_LIB
    + r"""
if redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return redis.error_reply('LOCK notify decision lock lost')
end
local status = base .. 'status'
local ops = cjson.decode(ARGV[3])
for _, op in ipairs(ops) do
  local c = op[1]
  if c == 'E' then
    local k = op[2]
    if redis.call('HEXISTS', status, k) == 0 then
      local n = string.format('%016d', redis.call('INCR', base .. 'serial'))
      redis.call('HSET', msg(k), 'key', k, 'phone', op[3], 'account', op[4], 'incident', op[5],
                 'kind', op[6], 'language', op[7], 'body', op[8], 'encoding', op[9],
                 'segments', op[10], 'priority', op[11], 'not_before', op[12],
                 'created', op[13], 'attempts', '0', 'n', n)
      redis.call('ZADD', base .. 'order', n, k)
      redis.call('HSET', base .. 'inc:' .. op[5], k, op[6] .. '|' .. op[7] .. '|' .. op[3])
      set_status(k, 'pending', 0)
    end
  elseif c == 'L' then
    redis.call('HSET', base .. 'log:' .. op[2], op[3], op[4])
  elseif c == 'D' then
    redis.call('HDEL', base .. 'log:' .. op[2], op[3])
  elseif c == 'S' then
    if redis.call('HGET', status, op[2]) == 'pending' then set_status(op[2], 'superseded', 0) end
  elseif c == 'B' then
    if redis.call('HGET', status, op[2]) == 'pending' then
      redis.call('HSET', msg(op[2]), 'body', op[3])
    end
  elseif c == 'M' then
    local from, into = op[2], op[3]
    local entries = redis.call('HGETALL', base .. 'log:' .. from)
    for i = 1, #entries, 2 do
      redis.call('HSETNX', base .. 'log:' .. into, entries[i], entries[i + 1])
    end
    redis.call('DEL', base .. 'log:' .. from)
    local rows = redis.call('HGETALL', base .. 'inc:' .. from)
    for i = 1, #rows, 2 do
      redis.call('HSET', msg(rows[i]), 'incident', into)
      redis.call('HSET', base .. 'inc:' .. into, rows[i], rows[i + 1])
    end
    redis.call('DEL', base .. 'inc:' .. from)
  elseif c == 'P' then
    redis.call('HSET', base .. 'incidents', op[2], op[3])
  elseif c == 'H' then
    redis.call('HSET', base .. 'meta', 'high_water', op[2])
  end
end
redis.call('DEL', KEYS[1])
return #ops
"""
)

#: Claim: move up to ``limit`` due rows from their pending queues to ``sending`` — highest
#: priority (lowest number) first, then by not_before, then in insertion order — in one
#: atomic step, so two senders never get the same row. Waits out a decision in progress.
#: KEYS: lock. ARGV: base, token ('' outside a decision), now, limit, wall-clock time.
#: Returns 'LOCKED', or the rows' fields in `notify.store.OutboxRow` order (then attempts).
NOTIFY_CLAIM = (
    NOTIFY_LIB
    + r"""
if locked() then return 'LOCKED' end
local left = tonumber(ARGV[4])
local out = {}
for _, p in ipairs(redis.call('ZRANGE', base .. 'prios', 0, -1)) do
  if left <= 0 then break end
  local queue = base .. 'pending:' .. p
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', queue, '-inf', ARGV[3], 'LIMIT', 0, left)) do
    local k = string.sub(member, 18)
    out[#out + 1] = redis.call('HMGET', msg(k), 'key', 'phone', 'account', 'incident', 'kind',
                               'language', 'body', 'encoding', 'segments', 'priority',
                               'not_before', 'created', 'attempts')
    set_status(k, 'sending', ARGV[5])
    left = left - 1
  end
  if redis.call('EXISTS', queue) == 0 then redis.call('ZREM', base .. 'prios', p) end
end
return out
"""
)

#: Finish a send attempt (`SqliteStore.finish`'s UPDATE). KEYS: lock. ARGV: base, token, key,
#: status, at, has provider id ('1'/'0'), provider id, has error, error, not_before ('' keep).
#: Returns 'LOCKED', 1, or 0 when no such row.
NOTIFY_FINISH = (
    NOTIFY_LIB
    + r"""
if locked() then return 'LOCKED' end
local k, new = ARGV[3], ARGV[4]
local row = msg(k)
if redis.call('EXISTS', row) == 0 then return 0 end
if new == 'sent' or new == 'pending' or new == 'failed' then
  redis.call('HINCRBY', row, 'attempts', 1)
end
if new == 'sent' then redis.call('HSET', row, 'sent_at', ARGV[5]) end
if ARGV[6] == '1' then
  redis.call('HSET', row, 'provider_id', ARGV[7])
  local index = base .. 'provider'
  local known = redis.call('HGET', index, ARGV[7])
  if not known then
    redis.call('HSET', index, ARGV[7], k)
  elseif not string.find('\n' .. known .. '\n', '\n' .. k .. '\n', 1, true) then
    redis.call('HSET', index, ARGV[7], known .. '\n' .. k)
  end
end
if ARGV[8] == '1' then
  redis.call('HSET', row, 'error', ARGV[9])
else
  redis.call('HDEL', row, 'error')
end
if ARGV[10] ~= '' then redis.call('HSET', row, 'not_before', ARGV[10]) end
set_status(k, new, ARGV[5])
return 1
"""
)

#: A delivery receipt by provider id or outbox key, for rows already sent.
#: KEYS: lock (routing only). ARGV: base, reference, status, at. Returns the rows updated.
NOTIFY_RECEIPT = (
    NOTIFY_LIB
    + r"""
local ref = ARGV[2]
local found = {}
if redis.call('EXISTS', msg(ref)) == 1 then found[#found + 1] = ref end
local known = redis.call('HGET', base .. 'provider', ref)
if known then
  for k in string.gmatch(known, '[^\n]+') do
    if k ~= ref and redis.call('HGET', msg(k), 'provider_id') == ref then found[#found + 1] = k end
  end
end
local n = 0
for _, k in ipairs(found) do
  local s = redis.call('HGET', base .. 'status', k)
  if s == 'sent' or s == 'delivered' or s == 'undelivered' then
    set_status(k, ARGV[3], 0)
    redis.call('HSET', msg(k), 'receipt_at', ARGV[4])
    n = n + 1
  end
end
return n
"""
)

#: Rows left ``sending`` (claimed at or before a wall-clock cutoff) go back to pending, to be
#: sent again under the same idempotency key. KEYS: lock. ARGV: base, token, cutoff.
#: Returns 'LOCKED' or how many.
NOTIFY_RECOVER = (
    NOTIFY_LIB
    + r"""
if locked() then return 'LOCKED' end
local stuck = redis.call('ZRANGEBYSCORE', base .. 'sending', '-inf', ARGV[3])
for _, k in ipairs(stuck) do set_status(k, 'pending', 0) end
return #stuck
"""
)


#: The system storm decision, compare-and-set: written only if its generation is still the one
#: the deciding worker read, so two workers deciding at once make one decision.
#: KEYS: system storm hash. ARGV: expected generation, then field, value pairs.
#: Returns 1 when written, 0 when another worker moved it on first.
STORM_CAS = """
local current = redis.call('HGET', KEYS[1], 'generation') or '0'
if current ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
"""
