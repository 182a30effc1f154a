"""The incremental tree recursion finds the same open set as brute force over every hypothesis.

The oracle enumerates every antichain of candidate assets on small random feeders and scores
each by the model's definition — for every open asset, the evidence of the premises below it
(minus those under forced assets, which are facts), plus its prior — computed straight from the
premise-level evidence, not from the tree's aggregates. The tree is fed the same evidence in
random orders, with forced, vetoed and shown nodes and ticks in between; its best score and
open set must equal the oracle's, and must not depend on the order.
"""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from scipy.special import betaln

from grid.topology import Topology
from outage.inference.likelihood import Likelihood, micro
from outage.inference.tree import NEVER, InferenceTree, PremiseSummary, prior_table
from outage.rules import InferenceModel, Rules

from .trees import random_topology

MODEL = InferenceModel()
LIK = Likelihood.of(MODEL)
HYSTERESIS = micro(MODEL.hysteresis)
T0 = 1_800_000_000


def priors(topology: Topology) -> list[int | None]:
    rules = Rules()
    return prior_table(
        topology, rules.storm.prior_open, MODEL.candidates, MODEL.telemetered_opens_only_on_scada
    )


class World:
    """Random evidence and facts on one random feeder."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.topology = random_topology(
            seed, devices=rng.randint(4, 9), transformers=rng.randint(5, 11)
        )
        topo = self.topology
        self.devices = len(topo.device_ids)
        self.nodes = self.devices + len(topo.transformer_ids)
        self.summaries: dict[int, PremiseSummary] = {}
        for premise in range(len(topo.premise_ids)):
            if rng.random() < 0.45:
                called = rng.random() < 0.8
                self.summaries[premise] = PremiseSummary(
                    called=called,
                    gasped=rng.random() < 0.2,
                    kind=micro(rng.choice([0.9, -0.7, 0.5, 0.2])),
                    first=T0 + rng.randrange(0, 3600),
                )
        self.restored = {
            p: T0 + rng.randrange(-600, 3600)
            for p in range(len(topo.premise_ids))
            if rng.random() < 0.08
        }
        for p in self.restored:  # the meter says power is back: no report since
            self.summaries[p] = PremiseSummary(False, False, 0, NEVER, True)
        #: Have this feeder's meters reported (so silent meters count)?
        self.metered = rng.random() < 0.5
        self.forced = set(rng.sample(range(self.nodes), rng.randint(0, 2)))
        self.vetoed = set(rng.sample(range(self.nodes), rng.randint(0, 1)))
        self.shown = set(rng.sample(range(self.nodes), rng.randint(0, 2)))
        self.clock = T0 + rng.randrange(600, 7200)

    def parent(self, node: int) -> int:
        topo = self.topology
        if node < self.devices:
            return topo.device_parent[node]
        return topo.transformer_device[node - self.devices]

    def below(self, node: int, ancestor: int) -> bool:
        while node != -1:
            if node == ancestor:
                return True
            node = self.parent(node)
        return False

    def premises_below(self, node: int) -> list[int]:
        topo = self.topology
        return [
            p
            for p in range(len(topo.premise_ids))
            if self.below(self.devices + topo.premise_transformer[p], node)
        ]

    def free_score(self, node: int) -> int:
        """The model's score of ``node`` open, straight from premise evidence."""
        inner = [f for f in self.forced if f != node and self.below(f, node)]
        free = [
            p
            for p in self.premises_below(node)
            if not any(p in self.premises_below(f) for f in inner)
        ]
        reporting = [
            self.summaries[p] for p in free if p in self.summaries and self.summaries[p].reports
        ]
        energised = sum(1 for p in free if p in self.summaries and self.summaries[p].energised)
        metered = len(free) if self.metered else 0
        if not reporting:
            return 0
        k = sum(s.called for s in reporting)
        first = min(s.first for s in reporting)
        latest_restore = max(
            (self.restored[p] for p in self.premises_below(node) if p in self.restored),
            default=-NEVER,
        )
        elapsed = max(self.clock - first, LIK.lead_seconds)
        kinds = sum(s.kind for s in reporting) / 1e6
        restored = energised if latest_restore > first else 0

        def region(k: int, n: int, gasps: int, metered: int) -> float:
            silent = (n - k) * LIK.delay_cdf(elapsed)
            calls = betaln(LIK.a + k, LIK.b + silent) - betaln(LIK.a, LIK.b)
            calls -= k * LIK.log_noise
            meters = 0.0
            if metered:
                quiet = (metered - gasps) * LIK.lag_cdf(elapsed)  # thinned as callers are
                meters = betaln(LIK.gasp_c + gasps, LIK.gasp_d + quiet) - betaln(
                    LIK.gasp_c, LIK.gasp_d
                )
                meters -= gasps * math.log(MODEL.last_gasp_false)
            return calls + meters + kinds

        gasps = sum(s.gasped for s in reporting)
        nats = region(k, len(free), gasps, metered) + restored * LIK.restored_llr
        if node >= self.devices:  # a transformer, or one premise's own service drop
            nats += math.log1p(-MODEL.service_share)
            if len(reporting) == 1:
                single = region(k, 1, gasps, int(self.metered))
                single += math.log(MODEL.service_share)
                nats = float(np.logaddexp(nats, single))
        return micro(nats)

    def oracle(self, prior: list[int | None]) -> list[tuple[int, frozenset[int]]]:
        """Every admissible hypothesis (set of inferred open nodes) with its score, best first."""
        inside_forced = {v for v in range(self.nodes) if any(self.below(v, f) for f in self.forced)}
        candidates = [
            v
            for v in range(self.nodes)
            if prior[v] is not None and v not in self.vetoed and v not in inside_forced
        ]
        forced_total = sum(self.free_score(f) for f in self.forced)
        scored = []
        for size in range(len(candidates) + 1):
            for combo in itertools.combinations(candidates, size):
                if any(a != b and self.below(a, b) for a in combo for b in combo):
                    continue  # nested inferred opens explain nothing more: not an antichain
                total = forced_total
                for v in combo:
                    total += prior[v] + self.free_score(v)  # type: ignore[operator]
                    total += HYSTERESIS if v in self.shown else 0
                scored.append((total, frozenset(combo)))
        scored.sort(key=lambda item: (-item[0], len(item[1])))
        return scored

    def build(self, rng: random.Random) -> InferenceTree:
        """Feed everything to a fresh tree in a random order, ticking on the way."""
        tree = InferenceTree(self.topology, LIK, priors(self.topology), HYSTERESIS)
        steps: list[tuple[str, int]] = (
            [("premise", p) for p in self.summaries]
            + [("restored", p) for p in self.restored]
            + [("force", v) for v in self.forced]
            + [("veto", v) for v in self.vetoed]
            + [("shown", v) for v in self.shown]
            + [("tick", i) for i in range(3)]
            + ([("metered", 0)] if self.metered else [])
        )
        # A decoy: force a node and release it again, show and hide one.
        decoy = rng.randrange(self.nodes)
        if decoy not in self.forced:
            steps.append(("decoy", decoy))
        rng.shuffle(steps)
        for what, x in steps:
            if what == "premise":
                tree.set_premise(x, self.summaries[x])
            elif what == "restored":
                tree.power_restored(x, self.restored[x], self.summaries[x])
            elif what == "force":
                tree.force(x, True)
            elif what == "metered":
                tree.meters_report(x)
            elif what == "decoy":
                tree.force(x, True)
                tree.force(x, False)
            elif what == "veto":
                tree.set_veto(x, True)
            elif what == "shown":
                tree.set_shown(x, True)
            else:
                tree.tick(self.clock - 1800 + 600 * x)
        tree.tick(self.clock)
        return tree


@pytest.mark.parametrize("seed", range(60))
def test_tree_matches_brute_force_and_ignores_order(seed: int) -> None:
    world = World(seed)
    rng = random.Random(seed * 7919)
    trees = [world.build(rng) for _ in range(3)]
    first = trees[0]
    root = first.root(0)
    best = world.oracle(first.prior)
    for tree in trees:
        assert tree.B[root] == first.B[root], "the score depends on the order of evidence"
        assert list(tree.open_nodes(root)) == list(first.open_nodes(root))
    # Integer micro-nats: the oracle's own rounding may differ by a few units per term.
    assert abs(first.B[root] - best[0][0]) <= 20
    inferred = frozenset(v for v, forced in first.open_nodes(root) if not forced)
    forced = {v for v, f in first.open_nodes(root) if f}
    assert forced == world.forced
    if len(best) == 1 or best[0][0] - best[1][0] > 50:
        assert inferred == best[0][1]


@pytest.mark.parametrize("seed", range(20))
def test_removing_evidence_restores_the_previous_answer(seed: int) -> None:
    world = World(seed)
    tree = world.build(random.Random(seed))
    root = tree.root(0)
    before = (tree.B[root], list(tree.open_nodes(root)))
    extra = next(p for p in range(len(world.topology.premise_ids)) if p not in world.summaries)
    tree.set_premise(extra, PremiseSummary(True, False, micro(0.9), world.clock - 60))
    tree.set_premise(extra, None)
    assert (tree.B[root], list(tree.open_nodes(root))) == before


def test_calls_term_is_the_beta_binomial_with_thinned_silence() -> None:
    # k reporters and m silent under Beta(a, b), silence weighted by the delay CDF.
    for k, m, minutes in [(1, 0, 5), (3, 40, 30), (13, 26, 24), (0, 800, 120), (40, 760, 600)]:
        cdf = LIK.delay_cdf(minutes * 60)
        expected = betaln(LIK.a + k, LIK.b + m * cdf) - betaln(LIK.a, LIK.b)
        expected -= k * LIK.log_noise
        assert LIK.calls_term(k, m, minutes * 60) == pytest.approx(expected, abs=1e-9)


def test_delay_cdf_is_the_configured_lognormal() -> None:
    from scipy.stats import lognorm

    median_s = MODEL.call_delay.median_minutes * 60
    dist = lognorm(s=MODEL.call_delay.sigma, scale=median_s)
    for seconds in [30, 120, 480, 1800, 4000]:
        assert LIK.delay_cdf(seconds) == pytest.approx(dist.cdf(seconds), abs=1e-12)
    assert LIK.delay_cdf(median_s) == pytest.approx(0.5)
    assert dist.cdf(LIK.settle_seconds) == pytest.approx(0.99, abs=1e-4)
    assert LIK.delay_cdf(LIK.settle_seconds) == 1.0


def test_lag_cdf_is_the_configured_lognormal() -> None:
    from scipy.stats import lognorm

    median_s = MODEL.last_gasp_lag.median_minutes * 60
    dist = lognorm(s=MODEL.last_gasp_lag.sigma, scale=median_s)
    for seconds in [10, 60, 180, 900, 2400]:
        assert LIK.lag_cdf(seconds) == pytest.approx(dist.cdf(seconds), abs=1e-12)
    assert dist.cdf(LIK.lag_settle_seconds) == pytest.approx(0.99, abs=1e-4)
    assert LIK.lag_cdf(LIK.lag_settle_seconds) == 1.0


def test_meters_term_is_the_beta_binomial_with_silence_thinned_by_the_lag() -> None:
    for g, n, minutes in [(0, 1, 1), (1, 1, 2), (2, 9, 3), (5, 40, 20), (0, 300, 120)]:
        arrived = LIK.lag_cdf(minutes * 60)
        expected = betaln(LIK.gasp_c + g, LIK.gasp_d + (n - g) * arrived)
        expected -= betaln(LIK.gasp_c, LIK.gasp_d) + g * math.log(MODEL.last_gasp_false)
        assert LIK.meters_term(g, n, minutes * 60) == pytest.approx(expected, abs=1e-9)
    # A young outage is barely contradicted by meters that have not spoken; a settled one is.
    assert LIK.meters_term(0, 10, 60) > LIK.meters_term(0, 10, 3600) + 4


@pytest.mark.parametrize("seed", range(20))
def test_a_batch_of_premises_equals_them_one_by_one(seed: int) -> None:
    world = World(seed)
    one = world.build(random.Random(seed))
    batch = world.build(random.Random(seed))
    rng = random.Random(seed + 1)
    premises = rng.sample(range(len(world.topology.premise_ids)), 6)
    news = {
        p: None
        if rng.random() < 0.3
        else PremiseSummary(
            rng.random() < 0.5, rng.random() < 0.5, micro(0.9), world.clock - rng.randrange(3600)
        )
        for p in premises
    }
    for p, new in news.items():
        one.set_premise(p, new)
    batch.set_premises(news)
    root = one.root(0)
    assert one.B[root] == batch.B[root]
    assert list(one.open_nodes(root)) == list(batch.open_nodes(root))
    for name in ("k", "kk", "g", "ev", "s", "n", "C", "F"):
        assert getattr(one, name) == getattr(batch, name), name


@pytest.mark.parametrize("seed", range(10))
def test_the_inlined_evaluator_equals_the_reference_score(seed: int) -> None:
    """`outage.inference.evaluator` against `Likelihood.score` / `score_transformer`."""
    world = World(seed)
    tree = world.build(random.Random(seed))
    checked = 0
    for v in range(world.nodes):
        if tree.ev[v] == 0 or ((tree.prior[v] is None or tree.veto[v]) and not tree.forced[v]):
            continue
        if tree.hidden(v) and not tree.forced[v]:
            continue  # under a forced node its score is not kept up to date
        tree.refresh(v)
        elapsed = max(tree.clock - tree.s[v], LIK.lead_seconds)
        metered = tree.root_of[v] in tree.metered_roots
        restored = tree.rr[v] if tree.e[v] > tree.s[v] else 0
        args = (
            tree.k[v],
            tree.n[v] - tree.k[v],
            elapsed,
            tree.kk[v],
            tree.g[v],
            tree.n[v] if metered else 0,
            restored,
        )
        if v >= tree.devices:
            expected = LIK.score_transformer(*args, tree.ev[v], metered)
        else:
            expected = LIK.score(*args)
        assert abs(tree.A[v] - expected) <= 2
        checked += 1
    assert checked > 0
