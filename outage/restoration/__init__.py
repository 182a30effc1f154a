"""Restoration: crews, work orders with service-commitment deadlines, and automatic ETRs.

The engine's `RestorationDesk` (``desk``) watches the domain events the engine emits and the
crews' own reports, and keeps:

* one work order per fault incident (``orders``), with its arrival and restoration deadlines
  from the area class (``areas``, ``config``), escalated on event-time timers before and at
  each deadline;
* the crews (``roster``, ``crews``): who exists, on shift, where, doing what, on which order;
* an ETR for every open incident (``estimate``): from repair history (``history``) in normal
  weather, from the crews' workload in a declared storm; an officer's or crew's ETR always
  wins and is never overwritten;
* the follow-up answers (回访) and each premise's outage history (``premise_history``), with the
  frequent-outage (频繁停电) early warning.

Everything runs on event time, so a journal replay gives the same orders, ETRs and escalations.
"""
