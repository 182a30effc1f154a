"""Turn changes of the inferred open set into incident changes — and end outages on facts.

The inference tree says which assets are most probably open; the registry holds the tickets
people already quote. After every change this module lines the two up, feeder by feeder:

* an asset that newly explains predictions below it takes over the earliest of their tickets
  (``PredictionMoved``) and the others merge into it (``IncidentMerged``);
* a prediction that falls apart into smaller ones keeps its ticket on the part holding most of
  its calls, the other parts get new tickets (cause "split from ...");
* a new open asset with no ticket near it gets one (``OutagePredicted``);
* a prediction left with no explanation is restored if its evidence ended (meters show power)
  and cancelled otherwise — once the message is applied, so that a prediction the same
  message makes again keeps its ticket; under a forced outage it merges into that one.

Calls follow their premise: they belong to the open outage above it that started first (the
outermost on a tie), so the calls of a fuse confirmed before its recloser tripped stay with it.

Restorations are facts: a crew restore, a SCADA close, an officer's restore or the end of
planned work end the outage at that asset, move the ticket there when it was predicted above
or below (the crew found where it really was), and end the evidence epoch of the premises
below, unless the asset was only nested inside an outage still open above it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from outage.incidents import Incident, Status
from outage.inference.evidence import EvidenceStore, Report
from outage.inference.explain import explain
from outage.inference.tree import NEVER, InferenceTree
from outage.registry import UNCLAIMED_SECONDS, IncidentRegistry, moment, seconds
from outage.signals import HAZARD_KINDS

#: How far apart a crew's report and the meters' can be and still be one restoration.
LATENESS = timedelta(seconds=UNCLAIMED_SECONDS)


class Reconciler:
    """Keeps the registry's incidents in line with the inference (see the module docstring)."""

    def __init__(
        self,
        tree: InferenceTree,
        evidence: EvidenceStore,
        registry: IncidentRegistry,
        now: Callable[[], datetime],
    ) -> None:
        self.tree = tree
        self.evidence = evidence
        self.registry = registry
        self.now = now
        #: Assets an officer said are not where the outage is (a split), until reset.
        self.vetoed: set[int] = set()
        #: Predictions withdrawn while this message is applied, by node, with when: cancelled
        #: only once it is done (`settle_withdrawn`). A message often moves the open set twice
        #: — a tick's silence, then the storm priors it declares; a feeder's first meter
        #: message, then its gasp — and a prediction withdrawn by the first move and made
        #: again by the second keeps its ticket instead of leaving a cancelled one behind.
        self.withdrawn: dict[int, tuple[Incident, datetime]] = {}

    # -- calls ----------------------------------------------------------------------------------

    def holder(self, premise: int) -> Incident | None:
        """The open incident a premise's current calls belong to (see the module docstring)."""
        open_at = self.registry.open_at
        if not open_at:
            return None
        # `InferenceTree.covering` inlined (asked for every meter message): the open nodes
        # above the premise, outermost first; an open node hides inferred ones below it.
        tree = self.tree
        node, devices = tree.premise_chain(premise)
        forced, dec = tree.forced, tree.dec
        best: Incident | None = None
        blocked = False
        for v in (*reversed(devices), node):
            if forced[v] or (not blocked and dec[v]):
                blocked = True
                incident = open_at.get(v)
                if (
                    incident is not None
                    and (best is None or incident.started < best.started)
                    and incident.covers(premise)
                ):
                    best = incident
        return best

    def rehome(self, premise: int) -> Incident | None:
        """Put a premise's current-epoch calls on their holder; returns the holder."""
        holder = self.holder(premise)
        if holder is not None:
            calls = [
                (r.id, r.at, r.kind in HAZARD_KINDS)
                for r in self.evidence.reports(premise)
                if r.kind != "last_gasp"
            ]
            self.registry.place(premise, calls, holder)
        return holder

    # -- the open set ---------------------------------------------------------------------------

    def rescope(self, nodes: Iterable[int]) -> None:
        """Re-decide, for the incidents at these transformer nodes, whether one premise's own
        service drop or the whole transformer is out (new reports and silence move the node's
        mixture from one half to the other without flipping it). A prediction follows the
        mixture both ways; a service drop that is a fact (confirmed, dispatched) only widens,
        when a second premise under it reports."""
        open_at, tree, registry = self.registry.open_at, self.tree, self.registry
        for node in nodes:
            incident = open_at.get(node)
            if incident is None or incident.pinned:
                continue
            if incident.is_predicted:
                premise = tree.service_premise(node)
            elif incident.premise is not None and tree.ev[node] > 1:
                premise = None
            else:
                continue
            if premise != incident.premise:
                reason = (
                    "one premise alone reported: its own service"
                    if premise is not None
                    else "more than its one premise is out"
                )
                registry.move(incident, node, self.now(), reason, premise)

    def rescope_weighed(self) -> None:
        """`rescope` the open incidents at transformers whose scores the latest tick moved
        (silence growing can move a node's mixture from one half to the other)."""
        devices, open_at = self.tree.devices, self.registry.open_at
        self.rescope([v for v in self.tree.last_weighed if v >= devices and v in open_at])

    def apply(self, flips: list[int], cause: str) -> None:
        """Line the registry up with the tree on every feeder where a decision flipped."""
        if not flips:
            return
        for root in sorted({self.tree.root(v) for v in flips}):
            self._feeder(root, cause)

    def _feeder(self, root: int, cause: str) -> None:
        tree, registry = self.tree, self.registry
        while True:
            opened = list(tree.open_nodes(root))
            inferred = {v for v, forced in opened if not forced}
            forced_nodes = [v for v, forced in opened if forced]
            old = {v: i for v, i in registry.open_on(root).items() if not i.forced}
            removed = sorted(set(old) - inferred)
            added = sorted(inferred - set(old))
            # A prediction whose reporting premises' meters now say power is back has ended:
            # its reports are its history, not evidence for smaller outages inside it.
            ended = [
                m
                for m in removed
                if tree.rr[m] > 0 and tree.e[m] > tree.s[m] and self._came_back(m) is not None
            ]
            if not ended:
                break
            for m in ended:
                self._ended_by_meters(old[m], m)
        if not removed and not added:
            self._link_nested(opened)
            return
        now = self.now()
        absorbed: dict[int, int] = {}
        parts: dict[int, list[int]] = {}
        for n in added:
            for m in removed:
                if tree.is_below(m, n):
                    absorbed[m] = n
                elif tree.is_below(n, m):
                    parts.setdefault(m, []).append(n)
        claimed: set[int] = set()
        for n in added:
            members = sorted(
                (old[m] for m in removed if absorbed.get(m) == n), key=lambda i: (i.started, i.id)
            )
            if not members:
                continue
            keeper = members[0]
            registry.move(
                keeper, n, now, "the reports below it are one outage", tree.service_premise(n)
            )
            for other in members[1:]:
                registry.merge(other, keeper, now)
            claimed.add(n)
        for m in sorted(parts):
            incident = old[m]
            choices = parts[m]
            target = max(choices, key=lambda n: (self._held_below(incident, n), -n))
            registry.move(
                incident,
                target,
                now,
                "only part of it is explained as out",
                tree.service_premise(target),
            )
            claimed.update(choices)
            for n in choices:
                if n != target:
                    self._new(n, f"split from {incident.id}", now)
        for n in added:
            if n not in claimed:
                self._new(n, cause, now)
        orphans = [m for m in removed if m not in absorbed and m not in parts]
        before = {m: set(old[m].held) for m in orphans}
        for m in removed:
            tree.set_shown(m, False)
        for n in inferred:
            tree.set_shown(n, True)
        self._link_nested(opened)
        for v in set(removed) | set(added):
            for premise in list(tree.premises_below(v)):
                self.rehome(premise)
        later: list[int] = []
        for m in orphans:
            later += self._orphan(old[m], m, before[m], forced_nodes, now)
        if later:
            self.apply(later, cause)

    def _orphan(
        self,
        incident: Incident,
        node: int,
        held_before: set[str],
        forced_nodes: list[int],
        now: datetime,
    ) -> list[int]:
        """A prediction the inference no longer holds open: where did its outage go?"""
        tree, registry = self.tree, self.registry
        if not incident.is_open:
            return []
        cover = next((f for f in forced_nodes if f != node and tree.is_below(node, f)), None)
        if cover is not None and cover in registry.open_at:
            registry.merge(incident, registry.open_at[cover], now)
            return []
        if tree.ev[node] == 0:
            # Every premise that reported has power again by its meter.
            came = self._came_back(node, incident)
            at = moment(came) if came is not None else now
            incident.restored_by = "meters"
            registry.record_reset(node, None, seconds(at), incident.id)
            registry.restore(incident, at, "every reporting premise has power again", [])
            return []
        moved = Counter(
            registry.where[c]
            for c in held_before
            if registry.where.get(c, incident.id) != incident.id
        )
        if moved:
            registry.merge(incident, registry.incidents[moved.most_common(1)[0][0]], now)
        else:
            registry.withdraw(incident)  # off the open set; cancelled by `settle_withdrawn`
            self.withdrawn[node] = (incident, now)
        return []

    def settle_withdrawn(self) -> None:
        """Cancel the predictions withdrawn while the message was applied and not made again
        (see ``withdrawn``), in ticket order."""
        pending, self.withdrawn = self.withdrawn, {}
        for incident, at in sorted(pending.values(), key=lambda item: item[0].id):
            reason = "the reports are better explained without it"
            self.registry.cancel(incident, at, reason, "engine")

    def _came_back(self, node: int, incident: Incident | None = None) -> int | None:
        """When the first premise below ``node`` that had reported out got power back (by its
        meter) since the outage there began; None when none did."""
        begun = self.tree.s[node]
        if begun >= NEVER and incident is not None:
            begun = seconds(incident.started) - self.evidence.lead
        times = [
            t
            for p in self.tree.premises_below_all(node)
            if (t := self.evidence.back_at(p)) is not None and t > begun
        ]
        return min(times) if times else None

    def _ended_by_meters(self, incident: Incident, node: int) -> None:
        """Meters below ``node`` report power: end its outage when the first of them did."""
        tree, registry = self.tree, self.registry
        at = self._came_back(node) or tree.e[node]
        keep = [
            v
            for v, i in registry.open_on(tree.root(node)).items()
            if i.forced and v != node and tree.is_below(v, node)
        ]
        self.end_epoch(node, tree.e[node], incident, keep)
        incident.restored_by = "meters"
        registry.restore(incident, moment(at), "meters below show power again", [])

    def _new(self, node: int, cause: str, now: datetime) -> Incident:
        # Withdrawn earlier in this message, here or below (as a move up would have taken it
        # over): the same ticket again.
        again = self.withdrawn.pop(node, None)
        if again is None:
            below = sorted(
                (incident.started, incident.id, m)
                for m, (incident, _) in self.withdrawn.items()
                if self.tree.is_below(m, node)
            )
            again = self.withdrawn.pop(below[0][2]) if below else None
        if again is not None:
            incident = again[0]
            self.registry.reinstate(incident, node, now, self.tree.service_premise(node))
            return incident
        times = [self.evidence.earliest(p) for p in self.tree.premises_below(node)]
        first = min((t for t in times if t is not None), default=None)
        started = moment(first) if first is not None else now
        premise = self.tree.service_premise(node)
        incident = self.registry.create(node, Status.PREDICTED, started, cause, premise)
        self.registry.announce(incident, now)
        return incident

    def _held_below(self, incident: Incident, node: int) -> int:
        tree = self.tree
        return sum(
            1 for h in incident.held.values() if tree.is_below(tree.premise_node(h.premise), node)
        )

    def _link_nested(self, opened: list[tuple[int, bool]]) -> None:
        """A forced outage inside another open one is its nested child."""
        registry, tree = self.registry, self.tree
        nodes = [v for v, _ in opened]
        for v, forced in opened:
            if not forced:
                continue
            child = registry.open_at.get(v)
            if child is None:
                continue
            for u in tree.chain(v)[1:]:
                if u in nodes and u in registry.open_at:
                    child.parent = registry.open_at[u].id
                    break

    # -- facts ----------------------------------------------------------------------------------

    def force(self, incident: Incident, cause: str) -> None:
        """Hold ``incident``'s asset open as a fact (SCADA, an officer, planned work)."""
        incident.forced = True
        node = self.registry.node_of(incident)
        flips = self.tree.set_shown(node, False)
        flips += self.tree.force(node, True)
        self.apply([*flips, node], cause)
        for premise in list(self.tree.premises_below(node)):
            self.rehome(premise)

    def restore(self, node: int, at: datetime, cause: str) -> Incident | None:
        """The asset at ``node`` was closed at ``at``: end its outage (see the module docstring).

        Returns the incident restored, or None when nothing known was out there.
        """
        tree, registry = self.tree, self.registry
        above = tree.chain(node)[1:]
        forced_above = any(tree.forced[u] for u in above)
        inferred_above = None
        if not forced_above:
            for u in reversed(above):
                if tree.dec[u]:
                    inferred_above = u
                    break
        target = registry.open_at.get(node)
        nested = forced_above or (
            inferred_above is not None and tree.open_without(node, inferred_above)
        )
        below = [
            i
            for v, i in registry.open_on(tree.root(node)).items()
            if v != node and tree.is_below(v, node)
        ]
        still_open = [i for i in below if i.forced]
        if nested:
            if target is None:
                return None
            changed = tree.force(node, False) if target.forced else []
            changed += tree.set_shown(node, False)
            registry.restore(target, at, cause, still_open)
            self.apply([*changed, node], cause)
            return target
        predicted_below = sorted(
            (i for i in below if not i.forced), key=lambda i: (i.started, i.id)
        )
        if target is None and inferred_above is not None:
            target = registry.open_at[inferred_above]
            registry.move(target, node, at, "the crew found the device open")
        if target is None and predicted_below:
            target = predicted_below.pop(0)
            registry.move(target, node, at, "the crew found the device open")
        unclaimed = self._unclaimed_below(node, at)
        if target is None:
            ended = self._ended_here(node, at)
            if ended is not None:
                # The meters ended this outage already; the crew's report dates it.
                ended.restored_at, ended.restored_by = at, "crew"
                self._claim(ended, unclaimed)
                return ended
            if not unclaimed and not any(
                r.at <= seconds(at)
                for p in tree.premises_below(node)
                for r in self.evidence.reports(p)
            ):
                # Nothing known was out there: remember the fact, for reports still to come.
                registry.record_reset(node, None, seconds(at), "")
                return None
            target = self._new(node, cause, at)
            self._claim(target, unclaimed, dated=False)
        else:
            self._claim(target, unclaimed)
        for other in predicted_below:
            registry.merge(other, target, at)
        flips: list[int] = []
        target.explanation = explain(tree, node, registry.topology)  # as it stood, for history
        if target.forced:
            flips += tree.force(node, False)
        flips += tree.set_shown(node, False)
        flips += self.end_epoch(
            node, seconds(at), target, [registry.node_of(i) for i in still_open]
        )
        for v in [v for v in self.vetoed if tree.is_below(v, node)]:
            self.vetoed.discard(v)
            flips += tree.set_veto(v, False)
        registry.restore(target, at, cause, still_open)
        self.apply([*flips, node], cause)
        return target

    def _unclaimed_below(
        self, node: int, at: datetime
    ) -> list[tuple[int, int, list[Report]]]:
        """Premises below ``node`` whose meters ended an epoch nobody's outage held within the
        lateness bound of ``at``: (premise, reset time, its reports)."""
        bound, tree = int(LATENESS.total_seconds()), self.tree
        return [
            (premise, reset_at, reports)
            for premise, (reset_at, reports) in sorted(self.registry.unclaimed.items())
            if reports
            and abs(reset_at - seconds(at)) <= bound
            and tree.is_below(tree.premise_node(premise), node)
        ]

    def _claim(
        self,
        incident: Incident,
        unclaimed: list[tuple[int, int, list[Report]]],
        *,
        dated: bool = True,
    ) -> None:
        """The crew's restoration and the meters' "power restored" were one: the reports the
        meters ended belong to ``incident``, and date it. A ``dated`` incident (one that
        existed before the crew's report) does not take a premise whose meter said power was
        back before it began."""
        registry = self.registry
        for premise, reset_at, reports in unclaimed:
            if dated and incident.started > moment(reset_at):
                continue  # back before this outage began: not its reports
            registry.claimed(premise)
            calls = [(r.id, r.at, r.kind in HAZARD_KINDS) for r in reports if r.kind != "last_gasp"]
            registry.place(premise, calls, incident)
            registry.adopt_premise_reset(premise, reset_at, incident.id)
            first = moment(min(r.at for r in reports))
            if first < incident.started:
                incident.started = first

    def _ended_here(self, node: int, at: datetime) -> Incident | None:
        """An incident at ``node`` its meters ended within the lateness bound of ``at``."""
        for _, owner in reversed(self.registry.history.get(node, [])):
            incident = self.registry.incidents.get(owner)
            if (
                incident is not None
                and incident.restored_by == "meters"
                and incident.restored_at is not None
                and abs(incident.restored_at - at) <= LATENESS
            ):
                return incident
        return None

    def end_epoch(self, node: int, until: int, owner: Incident, keep: list[int]) -> list[int]:
        """Reports below ``node`` made until ``until`` become ``owner``'s history (except under
        the nodes in ``keep``, outages that stay open); returns flipped nodes."""
        tree, registry = self.tree, self.registry
        updates = {}
        for premise in list(tree.premises_below(node)):
            pnode = tree.premise_node(premise)
            if any(tree.is_below(pnode, k) for k in keep):
                continue
            gone, summary = self.evidence.reset(premise, until)
            if not gone:
                continue
            calls = [(r.id, r.at, r.kind in HAZARD_KINDS) for r in gone if r.kind != "last_gasp"]
            registry.place(premise, calls, owner)
            updates[premise] = summary
        registry.record_reset(node, None, until, owner.id)
        return tree.set_premises(updates)
