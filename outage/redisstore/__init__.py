"""The Redis backend: several API and engine workers sharing one Redis (or Redis Cluster).

    intake.RedisIntake      API worker: signals/commands -> partition streams (dedup, atomic)
    worker.EngineWorker     engine worker: leases, consumer groups, exactly-once apply, claims
    views.RedisViews        API worker: IVR, incident lists, storm, counters from projections
    ivr.RedisIvrAnswerer    the IVR answer with one Redis round trip per lookup
    feed.EventFeed          the global event feed (SSE backlog and live tail)
    service.RedisRuntime    the `outage.api.runtime.Runtime` surface over all of the above
    keys                    every key template and Lua script
    errors                  StoreError, StoreUnavailable (-> HTTP 503), LeaseLost

See docs/redis.md for running N workers against one Redis and against Redis Cluster.
"""
