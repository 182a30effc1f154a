"""The most probable set of open assets on the radial network, kept exact as evidence arrives.

Nodes are the protective devices and the service transformers of the topology (device ``d`` is
node ``d``, transformer ``t`` is node ``D + t``). For every node ``v`` the tree keeps, over the
premises of its *free region* (its subtree minus the subtrees of forced nodes below it):

* aggregates — premises reporting (``k``), reporting by meter (``g``), the kind factors of the
  reporters (``K``), premises with any evidence (``ev``), the earliest report (``s``) and the
  latest "power restored" from a meter (``e``);
* ``A[v]`` — the log-likelihood ratio that ``v`` is open (`Likelihood.score`);
* ``C[v]`` — the sum of its children's ``B``: the best its subtree does with ``v`` closed;
* ``B[v] = max(prior[v] + A[v] + F[v], C[v])`` — the best log-probability ratio of its subtree
  when nothing above it is open, ``F[v]`` being the ``B`` of the forced nodes directly inside
  its free region (forced nodes are facts: SCADA trips, officer confirmations, planned work).

Because an open asset de-energises everything below it, the subtree of an open node is
explained whatever else is open there, so this recursion is the exact maximum a posteriori
open set (Felsenstein-style dynamic programming on a tree): a node is open when its own open
score beats its children's best (``dec[v]``), and the open set is read top-down. One new
report changes only the aggregates on its path to the root, so an update is O(depth); silence
that grows with time is re-weighed on a tick over the nodes whose outage is still young.

Scores are integer micro-nats and aggregates are integers or min/max of times, so every value
is a pure function of the evidence and ``now``: the answer does not depend on the order in
which the evidence arrived. Ties go to the smaller explanation (closed above).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from grid.topology import NO_DEVICE, Topology
from grid.tree import telemetered, transformer_premise_counts
from outage.inference.evaluator import make_evaluator
from outage.inference.likelihood import Likelihood, micro

NONE = NO_DEVICE
NEVER = 1 << 62  # "no report" as an epoch second: later than any real time


class PremiseSummary(NamedTuple):
    """What one premise reports in its current evidence epoch (see `outage.inference.evidence`).

    ``kind`` is the premise's kind factor in micro-nats; ``called`` says it reported an outage
    by phone; ``gasped`` that its meter sent a last gasp; ``first`` is when its outage began
    by its own evidence (a last gasp's time, or a call's less a caller's usual delay; `NEVER`
    when it reported nothing).

    A named tuple rather than a frozen dataclass: one is made, compared and unpacked for every
    signal, and a tuple does all three in C.
    """

    called: bool
    gasped: bool
    kind: int
    first: int
    #: The premise's meter says "power restored" (and no last gasp since).
    energised: bool = False

    @property
    def reports(self) -> bool:
        """Has the premise reported anything in this epoch?"""
        return self.first < NEVER


#: A premise without evidence (a None summary) as a summary: the zero of the path deltas.
NOTHING = PremiseSummary(False, False, 0, NEVER, False)


class InferenceTree:
    """Exact MAP open set over one network (see the module docstring)."""

    def __init__(
        self,
        topology: Topology,
        likelihood: Likelihood,
        priors: list[int | None],
        hysteresis: int,
    ) -> None:
        topo = topology
        self.topology = topo
        self.likelihood = likelihood
        self.hysteresis = hysteresis
        d_count, t_count = len(topo.device_ids), len(topo.transformer_ids)
        self.devices = d_count
        total = d_count + t_count
        self.parent: list[int] = list(topo.device_parent) + list(topo.transformer_device)
        self.depth: list[int] = [len(chain) - 1 for chain in topo.device_chain] + [
            len(topo.device_chain[d]) if d != NONE else 0 for d in topo.transformer_device
        ]
        self.n: list[int] = [int(x) for x in topo.device_premises] + [
            x for x in transformer_premise_counts(topo)
        ]
        if len(priors) != total:
            raise ValueError(f"priors: {len(priors)} values for {total} assets")
        self.prior = priors
        self.k = [0] * total
        self.kk = [0] * total  # the K aggregate (kind factors)
        self.g = [0] * total
        self.ev = [0] * total
        self.rr = [0] * total  # premises whose meter says power is back
        #: Feeder heads whose meters are known to report (any meter message from the feeder):
        #: there, a premise that sends no last gasp counts as a silent meter.
        self.metered_roots: set[int] = set()
        self.root_of: list[int] = [
            topo.device_chain[d][-1] if topo.device_chain[d] else d for d in range(d_count)
        ] + [topo.device_chain[d][-1] if d != NONE else NONE for d in topo.transformer_device]
        self.s = [NEVER] * total
        self.e = [-NEVER] * total
        self.A = [0] * total
        self.B = [0] * total
        self.C = [0] * total
        self.F = [0] * total
        self.dec = [False] * total
        #: A[v] is out of date (only an upper bound, in ``ub``): v was proven closed without
        #: computing it. Scores only fall with time and rise by a bounded step per report.
        self.stale = [False] * total
        self.ub = [0] * total
        self.forced = [False] * total
        self.fcnt = [0] * total  # forced nodes strictly below
        self.veto = [False] * total
        self.shown = [False] * total
        #: node -> children with evidence or forced nodes in their subtree.
        self.act: dict[int, set[int]] = {}
        #: transformer node -> {premise: earliest report} of its premises with evidence.
        self.reporters: dict[int, dict[int, int]] = {}
        self.summary: dict[int, PremiseSummary] = {}
        #: Nodes with evidence in their free region (the ones silence can change).
        self.evidence_nodes: set[int] = set()
        #: Nodes whose evidence changed since their silence last settled (what ticks weigh).
        self.young: set[int] = set()
        #: Nodes whose evidence all went while hidden under a forced node (`_rebuild_below`).
        self.left_hidden: set[int] = set()
        #: The nodes the latest `tick` re-weighed (whose scores silence moved).
        self.last_weighed: list[int] = []
        self.forced_nodes: set[int] = set()
        #: Feeder head -> forced nodes on that feeder (most paths have none to look for).
        self.forced_by_root: dict[int, int] = {}
        #: Event time every score is taken at; moved only by `tick`, so that all scores always
        #: refer to one moment and the values are a function of the evidence and the clock.
        self.clock = 0
        self._evaluate = make_evaluator(self)

    # -- node numbering ---------------------------------------------------------------------

    def transformer_node(self, transformer: int) -> int:
        """The node of a transformer number."""
        return self.devices + transformer

    def premise_node(self, premise: int) -> int:
        """The node of a premise's service transformer."""
        return self.devices + self.topology.premise_transformer[premise]

    def asset(self, node: int) -> tuple[str, int]:
        """``("device", d)`` or ``("transformer", t)`` of a node."""
        if node < self.devices:
            return "device", node
        return "transformer", node - self.devices

    def node_of(self, level: str, number: int) -> int:
        """The node of an asset given as (level, number)."""
        return number if level == "device" else self.devices + number

    def chain(self, node: int) -> list[int]:
        """``node`` and every node above it, nearest first."""
        if node < self.devices:
            return list(self.topology.device_chain[node])
        device = self.parent[node]
        return [node, *self.topology.device_chain[device]] if device != NONE else [node]

    def premise_chain(self, premise: int) -> tuple[int, tuple[int, ...]]:
        """A premise's transformer node and the device chain above it (a shared tuple)."""
        topo = self.topology
        transformer = topo.premise_transformer[premise]
        return self.devices + transformer, topo.device_chain[topo.transformer_device[transformer]]

    def root(self, node: int) -> int:
        """The feeder-head node above ``node``."""
        while self.parent[node] != NONE:
            node = self.parent[node]
        return node

    def is_below(self, node: int, ancestor: int) -> bool:
        """True when ``ancestor`` is ``node`` or lies above it."""
        while node != NONE:
            if node == ancestor:
                return True
            node = self.parent[node]
        return False

    # -- evidence in ------------------------------------------------------------------------

    def set_premise(self, premise: int, new: PremiseSummary | None) -> list[int]:
        """Replace a premise's summary (None: no evidence); returns nodes whose decision flipped."""
        old = self.summary.get(premise)
        if old == new:
            return []
        node = self._store(premise, new)
        o_called, o_gasp, o_kind, o_first, o_on = old or NOTHING
        n_called, n_gasp, n_kind, n_first, n_on = new or NOTHING
        flips: list[int] = []
        self._climb(
            node,
            NONE,
            0,
            0,
            0,
            int(n_called) - int(o_called),
            n_kind - o_kind,
            int(n_gasp) - int(o_gasp),
            int(n_first < NEVER) - int(o_first < NEVER),
            int(n_on) - int(o_on),
            o_first,
            n_first,
            True,
            flips,
        )
        return flips

    def _store(self, premise: int, new: PremiseSummary | None) -> int:
        """Keep ``new`` as the premise's summary and its node's reporters; returns the node."""
        node = self.premise_node(premise)
        if new is None:
            del self.summary[premise]
        else:
            self.summary[premise] = new
        reporters = self.reporters.setdefault(node, {})
        if new is not None and new.reports:
            reporters[premise] = new.first
        else:
            reporters.pop(premise, None)
        if not reporters:
            del self.reporters[node]
        return node

    def set_premises(self, updates: dict[int, PremiseSummary | None]) -> list[int]:
        """Replace many premises' summaries at once (a restoration ends the epoch of every
        premise below it): aggregates are updated path by path, then every node touched is
        weighed once. Returns the nodes whose decision flipped."""
        touched: set[int] = set()
        recompute: set[int] = set()
        k_, kk_, g_, rr_, ev_, s_ = self.k, self.kk, self.g, self.rr, self.ev, self.s
        parent, forced, evidence_nodes, summary = (
            self.parent,
            self.forced,
            self.evidence_nodes,
            self.summary,
        )
        for premise, new in updates.items():
            old = summary.get(premise)
            if old == new:
                continue
            node = self._store(premise, new)
            o_called, o_gasp, o_kind, o_first, o_on = old or NOTHING
            n_called, n_gasp, n_kind, n_first, n_on = new or NOTHING
            dk, dkk = int(n_called) - int(o_called), n_kind - o_kind
            dg = int(n_gasp) - int(o_gasp)
            dev = int(n_first < NEVER) - int(o_first < NEVER)
            drr = int(n_on) - int(o_on)
            v = node
            while v != NONE:
                touched.add(v)
                k_[v] += dk
                kk_[v] += dkk
                g_[v] += dg
                rr_[v] += drr
                if dev:
                    before = ev_[v]
                    ev_[v] = before + dev
                    if before == 0:
                        evidence_nodes.add(v)
                    elif before + dev == 0:
                        evidence_nodes.discard(v)
                if n_first < s_[v]:
                    s_[v] = n_first
                elif o_first == s_[v] and n_first != o_first:
                    recompute.add(v)
                if forced[v]:
                    break  # the aggregates of a forced node's region stop there
                v = parent[v]
        ordered = sorted(touched, key=lambda v: -self.depth[v])
        for v in ordered:  # children before parents: first reports and membership
            if v in recompute:
                self.s[v] = self._first_report(v)
            if self.parent[v] != NONE:
                self._mark(self.parent[v], v)
        flips: list[int] = []
        self.young.update(touched)
        self._rebuild(ordered, flips)
        return flips

    def meters_report(self, premise: int) -> list[int]:
        """A meter message came from ``premise``: its feeder's meters are known to report."""
        root = self.root_of[self.premise_node(premise)]
        if root in self.metered_roots:
            return []
        self.metered_roots.add(root)
        flips: list[int] = []
        self._rebuild(self._active_below(root), flips)
        return flips

    def _active_below(self, root: int) -> list[int]:
        """``root`` and the nodes below it that hold evidence or a forced node (so every node
        with evidence and every forced node of its feeder), found through ``act`` rather than
        by sifting every node with evidence in the network."""
        found: list[int] = []
        stack = [root]
        act = self.act
        while stack:
            v = stack.pop()
            found.append(v)
            stack.extend(act.get(v, ()))
        return found

    def power_restored(self, premise: int, at: int, summary: PremiseSummary | None) -> list[int]:
        """A meter says ``premise`` had power at ``at``: raise ``e`` on its path and put the
        premise's new ``summary`` (energised) in; returns nodes whose decision flipped."""
        node = self.premise_node(premise)
        stale = []
        while node != NONE and self.e[node] < at:
            if self.rr[node] and self.ev[node]:
                stale.append(node)
            self.e[node] = at
            node = self.parent[node]
        if summary != self.summary.get(premise):
            return self.set_premise(premise, summary)  # its path update weighs the new e
        flips: list[int] = []
        if stale:
            self._rebuild(stale, flips)
        return flips

    # -- facts ------------------------------------------------------------------------------

    def force(self, node: int, on: bool) -> list[int]:
        """Make ``node`` a fact (open whatever the evidence) or release it."""
        if self.forced[node] == on:
            return []
        flips: list[int] = []
        old_b = self.B[node]
        topmost_below = self.F[node]
        self.forced[node] = on
        root = self.root_of[node]
        if on:
            self.forced_nodes.add(node)
            self.forced_by_root[root] = self.forced_by_root.get(root, 0) + 1
            # A forced node's score counts even hidden under another, where ticks drop the
            # nodes that are not forced from the young set: it is young again.
            self.young.add(node)
        else:
            self.forced_nodes.discard(node)
            self.forced_by_root[root] -= 1
        child, up = node, self.parent[node]
        while up != NONE:
            self.fcnt[up] += 1 if on else -1
            self._mark(up, child)
            child, up = up, self.parent[up]
        if not on:
            self._rebuild_below(node, flips)  # what it hid counts again
            topmost_below = self.F[node]
        self._evaluate(node)
        sign = -1 if on else 1
        # Ancestors stop (or start again) seeing this free region; their Fsum swaps the forced
        # nodes below for this one (or back).
        fd = (self.B[node] - topmost_below) if on else (topmost_below - old_b)
        s_old, s_new = (self.s[node], NEVER) if on else (NEVER, self.s[node])
        self._climb(
            self.parent[node],
            node,
            self.B[node] - old_b,
            fd,
            sign * self.n[node],
            sign * self.k[node],
            sign * self.kk[node],
            sign * self.g[node],
            sign * self.ev[node],
            sign * self.rr[node],
            s_old,
            s_new,
            True,
            flips,
        )
        return flips

    def set_veto(self, node: int, on: bool) -> list[int]:
        """An officer says ``node`` is not open: it may not explain evidence (until cleared)."""
        return self._set_flag(self.veto, node, on)

    def set_shown(self, node: int, on: bool) -> list[int]:
        """``node`` holds a prediction people have seen: hysteresis favours keeping it."""
        return self._set_flag(self.shown, node, on)

    def set_priors(self, priors: list[int | None]) -> list[int]:
        """Switch rule sets: new priors, every active node re-weighed."""
        self.prior[:] = priors  # in place: the evaluator holds this list
        flips: list[int] = []
        self._rebuild(list(self.evidence_nodes | self.forced_nodes), flips)
        return flips

    # -- time -------------------------------------------------------------------------------

    def tick(self, now: int) -> list[int]:
        """Move the clock to ``now`` and re-weigh silence for the outages it can still change:
        those with silent premises that were not yet settled at the previous clock."""
        previous = self.clock
        self.last_weighed = []
        if now <= previous:
            return []
        self.clock = now
        settle = self.likelihood.settle_seconds
        k, n, s, ev = self.k, self.n, self.s, self.ev
        g = self.g  # (callers' silence grows while k < n, meters' while g < n)
        young = [
            v
            for v in self.young
            if ev[v] and (k[v] < n[v] or g[v] < n[v]) and previous - s[v] < settle
        ]
        if any(self.forced_by_root.values()):
            # Under a forced node a score matters to nobody, and releasing it re-weighs (and
            # makes young again) everything below it: such nodes leave the young set.
            forced_by_root, root_of, forced = self.forced_by_root, self.root_of, self.forced
            young = [
                v
                for v in young
                if not forced_by_root.get(root_of[v]) or forced[v] or not self.hidden(v)
            ]
        flips: list[int] = []
        # A node proven closed (``stale``) stays proven as its score falls: whatever changes
        # its C or F weighs it then, and any scoring clears the flag. Only the rest are weighed
        # (all stay young: scored again later, they may be open while still unsettled).
        stale = self.stale
        weigh = [v for v in young if not stale[v]]
        self.last_weighed = weigh
        if weigh:
            self._reweigh_silence(weigh, flips)
        # Weighed at this clock for the last time: silence no longer grows for these.
        self.young = {v for v in young if now - s[v] < settle}
        return flips

    # -- answers ----------------------------------------------------------------------------

    def open_nodes(self, root: int) -> Iterator[tuple[int, bool]]:
        """The open set below a feeder head: (node, forced), parents before children.

        Inferred open nodes form an antichain; forced nodes may nest under anything open.
        """
        stack = [(root, False)]
        act = self.act
        while stack:
            v, covered = stack.pop()
            forced = self.forced[v]
            if forced:
                yield v, True
            elif not covered and self.dec[v]:
                yield v, False
            opened = forced or (not covered and self.dec[v])
            cover = covered or opened
            for child in sorted(act.get(v, ()), reverse=True):
                if self.forced[child] or self.fcnt[child] or (not cover and self.B[child] > 0):
                    stack.append((child, cover))

    def covering(self, premise: int) -> list[tuple[int, bool]]:
        """Open nodes above ``premise``, outermost first: (node, forced)."""
        node, devices = self.premise_chain(premise)
        forced, dec = self.forced, self.dec
        out: list[tuple[int, bool]] = []
        blocked = False  # an open node above hides inferred decisions below it
        for v in (*reversed(devices), node):
            if forced[v]:
                out.append((v, True))
                blocked = True
            elif not blocked and dec[v]:
                out.append((v, False))
                blocked = True
        return out

    def premises_below(self, node: int) -> Iterator[int]:
        """Premises with evidence in ``node``'s subtree (forced subtrees included)."""
        stack = [node]
        while stack:
            v = stack.pop()
            if v >= self.devices:
                yield from self.reporters.get(v, {})
            else:
                stack.extend(self.act.get(v, ()))

    def premises_below_all(self, node: int) -> list[int]:
        """Every premise in ``node``'s subtree (evidence or not)."""
        level, number = self.asset(node)
        if level == "device":
            below = self.topology.premises_below(number)
        else:
            below = self.topology.premises_of_transformer(number)
        premises: list[int] = below.tolist()  # numpy's stubs give tolist() no element type
        return premises

    def service_premise(self, node: int) -> int | None:
        """The premise whose own service drop best explains an open transformer node: with a
        single premise reporting there, when "that premise alone" outweighs "the whole
        transformer" in the node's mixture (`halves`). None for a device, a forced node, or
        when the whole transformer is the likelier half — or the same thing: a transformer of
        one premise."""
        if node < self.devices or self.forced[node] or self.ev[node] != 1 or self.n[node] < 2:
            return None
        whole, single = self.halves(node)
        if single is None or single <= whole:
            return None
        (premise,) = self.reporters[node]
        return premise

    def halves(self, node: int) -> tuple[float, float | None]:
        """A transformer node's two explanations now (nats): the whole transformer, and (with
        one premise reporting) that premise alone (`Likelihood.transformer_halves`)."""
        k, n, s = self.k[node], self.n[node], self.s[node]
        metered = self.root_of[node] in self.metered_roots
        return self.likelihood.transformer_halves(
            k,
            n - k,
            max(self.clock - s, self.likelihood.lead_seconds),
            self.kk[node],
            self.g[node],
            n if metered else 0,
            self.rr[node] if self.e[node] > s else 0,
            self.ev[node],
            metered,
        )

    def open_score(self, node: int) -> int:
        """``node``'s own open option (prior + A + F, with hysteresis if shown), micro-nats."""
        prior = self.prior[node]
        base = self.A[node] + self.F[node]
        if prior is None:
            return base
        return base + prior + (self.hysteresis if self.shown[node] else 0)

    def margin(self, node: int) -> int:
        """How much the open option beats (>0) or trails the children's best, micro-nats."""
        self.refresh(node)
        return self.open_score(node) - self.C[node]

    def open_without(self, node: int, top: int) -> bool:
        """Would ``top`` (an ancestor of ``node``) still be open if ``node``'s subtree held no
        premises at all? (Is a crew's restore of ``node`` nested under an outage above it?)

        A dry run of the path update: nothing is changed.
        """
        forced = self.forced[node]
        dn = dk = dkk = dg = dev = drr = 0
        if not forced:
            dn, dk, dkk, dg, dev, drr = (
                -self.n[node],
                -self.k[node],
                -self.kk[node],
                -self.g[node],
                -self.ev[node],
                -self.rr[node],
            )
        d_child = -self.B[node]
        fd = -(self.B[node] if forced else self.F[node])
        child, child_s = node, NEVER
        v = self.parent[node]
        aggregate = not forced
        while v != NONE:
            n, k, kk, g, ev = self.n[v], self.k[v], self.kk[v], self.g[v], self.ev[v]
            rr = self.rr[v]
            s = self.s[v]
            if aggregate:
                n, k, kk, g, ev, rr = n + dn, k + dk, kk + dkk, g + dg, ev + dev, rr + drr
                s = child_s
                for other in self.act.get(v, ()):
                    if other != child and not self.forced[other] and self.s[other] < s:
                        s = self.s[other]
            c, f = self.C[v] + d_child, self.F[v] + fd
            elapsed = max(self.clock - s, self.likelihood.lead_seconds)
            restored = rr if self.e[v] > s else 0
            mm = n if self.root_of[v] in self.metered_roots else 0
            a = self.likelihood.score(k, n - k, elapsed, kk, g, mm, restored) if ev > 0 else 0
            prior = self.prior[v]
            if v == top:
                if prior is None or self.veto[v] or self.forced[v]:
                    return self.forced[v]
                return prior + a + f + (self.hysteresis if self.shown[v] else 0) > c
            if self.forced[v]:
                b = a + f
                aggregate = False
                fd = b - self.B[v]
            else:
                open_v = None if prior is None or self.veto[v] else prior + a + f
                if open_v is not None and self.shown[v]:
                    open_v += self.hysteresis
                b = open_v if open_v is not None and open_v > c else c
            d_child = b - self.B[v]
            child, child_s = v, s
            v = self.parent[v]
        return False

    # -- the recursion ----------------------------------------------------------------------

    def _set_flag(self, flags: list[bool], node: int, on: bool) -> list[int]:
        if flags[node] == on:
            return []
        flags[node] = on
        flips: list[int] = []
        old_b, old_dec = self.B[node], self.dec[node]
        self._evaluate(node)
        if self.dec[node] != old_dec:
            flips.append(node)
        d = self.B[node] - old_b
        fd = d if self.forced[node] else 0
        self._climb(self.parent[node], node, d, fd, 0, 0, 0, 0, 0, 0, NEVER, NEVER, False, flips)
        return flips

    def hidden(self, v: int) -> bool:
        """Is ``v`` under a forced node (so its score is not kept up to date)?"""
        u = self.parent[v]
        while u != NONE:
            if self.forced[u]:
                return True
            u = self.parent[u]
        return False

    def refresh(self, v: int) -> None:
        """Bring ``A[v]`` up to date (for explanations); its decision is unchanged unless it
        is hidden under a forced node, where decisions do not count."""
        if self.hidden(v):
            b, dec, c = self.B[v], self.dec[v], self.C[v]
            self._evaluate(v)
            self.B[v], self.dec[v], self.C[v] = b, dec, c  # keep the sums of the tree as they are
        elif self.stale[v]:
            b, dec = self.B[v], self.dec[v]
            self._evaluate(v)
            assert (self.B[v], self.dec[v]) == (b, dec), "a node proven closed was not"

    def _climb(
        self,
        v: int,
        child: int,
        d_child: int,
        fd: int,
        dn: int,
        dk: int,
        dkk: int,
        dg: int,
        dev: int,
        drr: int,
        s_old: int,
        s_new: int,
        aggregate: bool,
        flips: list[int],
    ) -> None:
        """Walk from ``v`` to the root applying aggregate deltas (up to and including the first
        forced node) and the change of the child's ``B`` (and of the forced ``B`` in ``F``)."""
        parent, n_, k_, kk_, g_, rr_, ev_ = (
            self.parent,
            self.n,
            self.k,
            self.kk,
            self.g,
            self.rr,
            self.ev,
        )
        s_, C_, F_, B_, dec_, forced_ = self.s, self.C, self.F, self.B, self.dec, self.forced
        A_, ub_, stale_, veto_, shown_, prior_ = (
            self.A,
            self.ub,
            self.stale,
            self.veto,
            self.shown,
            self.prior,
        )
        act, fcnt, evidence_nodes = self.act, self.fcnt, self.evidence_nodes
        devices, hysteresis, evaluate = self.devices, self.hysteresis, self._evaluate
        # Deltas that can only raise a score by a known step let a node proven closed skip
        # its score; any other change (a premise leaving, a report withdrawn) computes it.
        # (An earlier first report only lengthens the silence, so it can only lower scores.)
        grows_only = (
            dn == 0 and dk >= 0 and dkk >= 0 and dg >= 0 and dev >= 0 and drr >= 0
        ) and s_new <= s_old
        rising: int | None = 0 if grows_only and not aggregate else None
        lik = self.likelihood
        report_gain, gasp_gain = lik.report_gains, lik.gasp_gains
        metered_roots, root_of = self.metered_roots, self.root_of
        young = self.young
        # Below a forced node nothing but facts matters (it is open whatever they show), so
        # the nodes under the highest forced node of the path keep their scores un-updated
        # until it is released (`force` then re-weighs them).
        cut = NONE
        if v != NONE and self.forced_by_root.get(root_of[v]):
            u = v
            while u != NONE:
                if forced_[u]:
                    cut = u
                u = parent[u]
        hidden = cut != NONE and v != cut
        # Only a child whose evidence appeared or vanished changes its parent's `act`.
        crossed = child != NONE
        while v != NONE:
            if v == cut:
                hidden = False
            if aggregate:
                if grows_only:
                    rising = dkk
                    if dk:
                        top = k_[v] + dk
                        if top >= len(report_gain):
                            lik.grow_gains(top)
                        rising += dk * report_gain[top]
                    if dg and root_of[v] in metered_roots:
                        top = g_[v] + dg
                        if top >= len(gasp_gain):
                            lik.grow_gains(top)
                        rising += dg * gasp_gain[top]
                else:
                    rising = None
                if dn:
                    n_[v] += dn
                if dk:
                    k_[v] += dk
                if dkk:
                    kk_[v] += dkk
                if dg:
                    g_[v] += dg
                if drr:
                    rr_[v] += drr
                next_crossed = False
                if dev:
                    before = ev_[v]
                    ev_[v] = before + dev
                    if before == 0:
                        evidence_nodes.add(v)
                        next_crossed = True
                    elif before + dev == 0:
                        evidence_nodes.discard(v)
                        next_crossed = True
                if s_new < s_[v]:
                    s_[v] = s_new
                elif s_old == s_[v] and s_new != s_old:
                    s_[v] = self._first_report(v)
                young.add(v)
            else:
                next_crossed = False
            if child != NONE:
                if d_child:
                    C_[v] += d_child
                if fd:
                    F_[v] += fd
                if crossed:  # act[v]: the children worth descending into (inlined `_mark`)
                    live = ev_[child] > 0 or forced_[child] or fcnt[child] > 0
                    members = act.get(v)
                    if live:
                        if members is None:
                            act[v] = {child}
                        elif child not in members:
                            members.add(child)
                    elif members is not None and child in members:
                        members.discard(child)
                        if not members:
                            del act[v]
                        if hidden:
                            # Its score stays as it was (hidden); releasing the forced node
                            # must still re-weigh it, though `act` no longer leads there.
                            self.left_hidden.add(child)
            crossed = next_crossed
            old_b, old_dec = B_[v], dec_[v]
            if hidden and not forced_[v]:
                pass
            elif (
                # Proven without computing its score that ``v`` stays closed although its
                # score may have risen by up to ``rising``: then B = C exactly and A is left
                # out of date (``stale``, ``ub`` its bound). Not a transformer: its score (a
                # mixture with one premise's own service drop) has no simple bound on a new
                # report's gain. Inlined: it is asked at every level of every path.
                rising is not None
                and v < devices
                and not forced_[v]
                and not old_dec
                and not veto_[v]
                and (prior := prior_[v]) is not None
                and prior
                + (bound := (ub_[v] if stale_[v] else A_[v]) + rising)
                + F_[v]
                + (hysteresis if shown_[v] else 0)
                <= C_[v]
            ):
                ub_[v] = bound
                stale_[v] = True
                B_[v] = C_[v]
            else:
                evaluate(v)
            if dec_[v] != old_dec:
                flips.append(v)
            d = B_[v] - old_b
            if forced_[v]:
                aggregate = False
                fd = d
                rising = 0
            up = parent[v]
            if not aggregate and d == 0 and fd == 0:
                if up != NONE:
                    self._mark(up, v)
                return
            child, d_child = v, d
            v = up

    def _mark(self, v: int, child: int) -> None:
        """Keep ``act[v]`` = the children worth descending into."""
        live = self.ev[child] > 0 or self.forced[child] or self.fcnt[child] > 0
        members = self.act.get(v)
        if live:
            if members is None:
                self.act[v] = {child}
            else:
                members.add(child)
        elif members is not None and child in members:
            members.discard(child)
            if not members:
                del self.act[v]

    def _first_report(self, v: int) -> int:
        if v >= self.devices:
            reporters = self.reporters.get(v)
            return min(reporters.values()) if reporters else NEVER
        best = NEVER
        for child in self.act.get(v, ()):
            if not self.forced[child] and self.s[child] < best:
                best = self.s[child]
        return best

    def _rebuild_below(self, node: int, flips: list[int]) -> None:
        """Re-weigh the nodes with evidence below ``node`` (deepest first), passing the changes
        up to ``node`` itself, which the caller weighs."""
        parent, forced = self.parent, self.forced
        u = parent[node]
        while u != NONE:
            if forced[u]:
                return  # still hidden by a forced node above
            u = parent[u]
        below: list[int] = []
        stack = list(self.act.get(node, ()))
        while stack:
            v = stack.pop()
            below.append(v)
            stack.extend(self.act.get(v, ()))
        # Nodes that lost their evidence while hidden kept their old scores in their parents'
        # sums: weigh them again (to nothing) too.
        gone = [v for v in self.left_hidden if v != node and self.is_below(v, node)]
        if gone:
            self.left_hidden.difference_update(gone)
            known = set(below)
            below.extend(v for v in gone if v not in known)
        hidden = {node: False}
        for v in sorted(below, key=lambda x: self.depth[x]):  # parents first
            up = parent[v]
            if up not in hidden:  # a node reached through `left_hidden`: walk up to ``node``
                u, under = parent[up], False
                while u != NONE and u != node:
                    under = under or forced[u]
                    u = parent[u]
                hidden[up] = under
            hidden[v] = hidden[up] or forced[up]
        f_before: dict[int, int] = {}
        self.young.update(below)
        for v in sorted(below, key=lambda x: -self.depth[x]):
            old_b, old_dec = self.B[v], self.dec[v]
            old_f = f_before.pop(v, self.F[v])
            if not hidden[v] or forced[v]:
                self._evaluate(v)
            if self.dec[v] != old_dec:
                flips.append(v)
            up = parent[v]
            self.C[up] += self.B[v] - old_b
            if up not in f_before:
                f_before[up] = self.F[up]
            self.F[up] += (self.B[v] - old_b) if forced[v] else (self.F[v] - old_f)

    def _active_closure(self, nodes: Iterable[int]) -> list[int]:
        """``nodes`` and all their ancestors, deepest first."""
        seen: set[int] = set()
        for v in nodes:
            while v != NONE and v not in seen:
                seen.add(v)
                v = self.parent[v]
        return sorted(seen, key=lambda v: -self.depth[v])

    def _reweigh_silence(self, nodes: list[int], flips: list[int]) -> None:
        """`_rebuild` for a tick: ``nodes`` are the ones whose score time can still lower, the
        rest keep theirs (their silence settled, or they have none). So a node above them is
        weighed only when a child's ``B`` (or the forced ``B`` in its ``F``) changed: with its
        inputs unchanged its answer is too. Deepest level first, each node once; a node proven
        closed (scores only fell) is not scored at all."""
        parent, forced, depth, dec = self.parent, self.forced, self.depth, self.dec
        A, B, C, F, ub, stale = self.A, self.B, self.C, self.F, self.ub, self.stale
        prior_, veto, shown, hysteresis = self.prior, self.veto, self.shown, self.hysteresis
        evaluate = self._evaluate
        forced_by_root, root_of = self.forced_by_root, self.root_of
        levels: dict[int, list[int]] = {}
        for v in nodes:
            levels.setdefault(depth[v], []).append(v)
        queued = set(nodes)
        f_before: dict[int, int] = {}  # F of a node before its children changed it here
        level = max(levels)
        while level >= 0:
            for v in levels.pop(level, ()):
                old_b, old_dec = B[v], dec[v]
                old_f = f_before.pop(v, F[v])
                # Under a forced node a score matters to nobody (`force` re-weighs on release):
                # a forced node nested under another passes its change up to hidden nodes.
                if forced_by_root.get(root_of[v]) and not forced[v] and self.hidden(v):
                    pass
                elif (
                    # Proven closed (see `_climb`), transformers too: like every score, a
                    # transformer's only falls as time passes.
                    not forced[v]
                    and not old_dec
                    and not veto[v]
                    and (prior := prior_[v]) is not None
                    and prior
                    + (bound := ub[v] if stale[v] else A[v])
                    + F[v]
                    + (hysteresis if shown[v] else 0)
                    <= C[v]
                ):
                    ub[v] = bound
                    stale[v] = True
                    B[v] = C[v]
                else:
                    evaluate(v)
                if dec[v] != old_dec:
                    flips.append(v)
                up = parent[v]
                if up == NONE:
                    continue
                d_b = B[v] - old_b
                d_f = d_b if forced[v] else F[v] - old_f
                if d_b or d_f:
                    if up not in f_before:
                        f_before[up] = F[up]
                    C[up] += d_b
                    F[up] += d_f
                    if up not in queued:
                        queued.add(up)
                        levels.setdefault(level - 1, []).append(up)
            level -= 1

    def _rebuild(self, nodes: list[int], flips: list[int]) -> None:
        """Re-evaluate ``nodes`` and every node above them, deepest first, each passing the
        change of its ``B`` (and of the forced ``B`` in ``F``) to its parent."""
        parent, forced = self.parent, self.forced
        f_before: dict[int, int] = {}
        ordered = self._active_closure(nodes)
        hidden: dict[int, bool] = {}  # under a forced node: its score matters to nobody
        for v in reversed(ordered):  # parents first
            up = parent[v]
            hidden[v] = up != NONE and (hidden[up] or forced[up])
        for v in ordered:
            old_b, old_dec = self.B[v], self.dec[v]
            old_f = f_before.pop(v, self.F[v])
            if not hidden[v] or forced[v]:
                self._evaluate(v)
            if self.dec[v] != old_dec:
                flips.append(v)
            up = parent[v]
            if up != NONE:
                self.C[up] += self.B[v] - old_b
                if up not in f_before:
                    f_before[up] = self.F[up]
                self.F[up] += (self.B[v] - old_b) if forced[v] else (self.F[v] - old_f)


def prior_table(
    topology: Topology,
    prior_open: dict[str, float],
    candidates: Iterable[str],
    telemetered_only_on_scada: bool = True,
) -> list[int | None]:
    """Per node log prior odds of being open (micro-nats), None where a node cannot open by
    itself (not a candidate kind): devices first, then transformers."""
    allowed = set(candidates)

    def log_odds(p: float) -> int:
        return micro(math.log(p) - math.log1p(-p))

    watched = telemetered(topology)
    out: list[int | None] = []
    for d, kind in enumerate(topology.device_kind):
        if kind not in allowed or (watched[d] and telemetered_only_on_scada):
            out.append(None)  # opens only on a fact (SCADA, an officer)
        else:
            out.append(log_odds(prior_open[kind]))
    transformer = log_odds(prior_open["transformer"]) if "transformer" in allowed else None
    out.extend([transformer] * len(topology.transformer_ids))
    return out
