"""The tree kept up to date step by step equals a tree built from scratch on the final facts.

The incremental paths skip work they can prove unneeded (nodes proven closed, a tick weighing
only nodes whose score time can change, nodes hidden under forced ones leaving the young set,
a parent weighed only when a child's value changed). So after random histories of evidence
added and withdrawn, meters restoring, nested facts set and released, vetoes, hysteresis and
ticks, every value a decision rests on must equal that of a fresh tree given only the end
state: the same summaries, restorations, facts and clock. (Nodes hidden under a forced node are
not kept up to date by design and are not compared.)
"""

from __future__ import annotations

import random

import pytest

from grid.topology import Topology
from outage.inference.likelihood import Likelihood, micro
from outage.inference.tree import NEVER, InferenceTree, PremiseSummary, prior_table
from outage.rules import InferenceModel, Rules

from .trees import random_topology

MODEL = InferenceModel()
LIK = Likelihood.of(MODEL)
HYSTERESIS = micro(MODEL.hysteresis)
T0 = 1_800_000_000


def fresh(topology: Topology, priors: list[int | None]) -> InferenceTree:
    """An empty tree (its own copy of the priors)."""
    return InferenceTree(topology, LIK, list(priors), HYSTERESIS)


def summary(rng: random.Random, now: int) -> PremiseSummary | None:
    """A random current-epoch summary (None: no evidence), its first report before ``now``."""
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.25:
        return PremiseSummary(False, False, 0, NEVER, True)  # the meter shows power
    return PremiseSummary(
        called=rng.random() < 0.7,
        gasped=rng.random() < 0.4,
        kind=micro(rng.choice([0.9, -0.7, 0.5, 0.2, 0.0])),
        first=now - rng.randrange(0, 1200),
    )


def history(seed: int) -> tuple[InferenceTree, InferenceTree]:
    """A random history applied step by step, and a fresh tree given its end state."""
    rng = random.Random(seed)
    topology = random_topology(seed, devices=rng.randint(4, 10), transformers=rng.randint(5, 12))
    priors = prior_table(
        topology,
        Rules().storm.prior_open,
        MODEL.candidates,
        MODEL.telemetered_opens_only_on_scada,
    )
    tree = fresh(topology, priors)
    nodes = tree.devices + len(topology.transformer_ids)
    premises = len(topology.premise_ids)
    now = T0
    tree.tick(now)
    summaries: dict[int, PremiseSummary | None] = {}
    restored: dict[int, int] = {}
    flags: dict[str, set[int]] = {"forced": set(), "veto": set(), "shown": set()}
    metered = False
    for _ in range(rng.randint(30, 120)):
        roll = rng.random()
        if roll < 0.45:
            p = rng.randrange(premises)
            new = summary(rng, now)
            summaries[p] = new
            tree.set_premise(p, new)
        elif roll < 0.55:
            p = rng.randrange(premises)
            at = now - rng.randrange(0, 1800)
            summaries[p] = PremiseSummary(False, False, 0, NEVER, True)
            restored[p] = max(restored.get(p, at), at)
            tree.power_restored(p, at, summaries[p])
        elif roll < 0.75:
            now += rng.choice([60, 120, 120, 300, 600, 1800])
            tree.tick(now)
        elif roll < 0.85:
            v = rng.randrange(nodes)  # forced nodes may nest: SCADA under a confirmed outage
            on = v not in flags["forced"]
            (flags["forced"].add if on else flags["forced"].discard)(v)
            tree.force(v, on)
        elif roll < 0.9:
            v = rng.randrange(nodes)
            on = v not in flags["veto"]
            (flags["veto"].add if on else flags["veto"].discard)(v)
            tree.set_veto(v, on)
        elif roll < 0.95:
            v = rng.randrange(nodes)
            on = v not in flags["shown"]
            (flags["shown"].add if on else flags["shown"].discard)(v)
            tree.set_shown(v, on)
        elif not metered:
            metered = True
            tree.meters_report(0)
    scratch = fresh(topology, priors)
    scratch.tick(now)
    if metered:
        scratch.meters_report(0)
    for v in sorted(flags["forced"]):
        scratch.force(v, True)
    for v in sorted(flags["veto"]):
        scratch.set_veto(v, True)
    for v in sorted(flags["shown"]):
        scratch.set_shown(v, True)
    for p, at in sorted(restored.items()):
        scratch.power_restored(p, at, summaries[p])
    for p, s in sorted(summaries.items()):
        scratch.set_premise(p, s)
    return tree, scratch


@pytest.mark.parametrize("seed", range(150))
def test_step_by_step_equals_from_scratch(seed: int) -> None:
    tree, scratch = history(seed)
    checked = 0
    for v in range(len(tree.B)):
        for name in ("n", "k", "kk", "g", "ev", "rr", "s", "e"):
            if not tree.hidden(v):
                assert getattr(tree, name)[v] == getattr(scratch, name)[v], (name, v)
        if tree.hidden(v):
            continue  # under a forced node: not kept up to date (and it matters to nobody)
        assert tree.B[v] == scratch.B[v], ("B", v)
        assert tree.F[v] == scratch.F[v], ("F", v)
        if not tree.forced[v]:
            assert tree.C[v] == scratch.C[v], ("C", v)
            assert tree.dec[v] == scratch.dec[v], ("dec", v)
        checked += 1
    assert checked > 0
    root = 0
    assert list(tree.open_nodes(root)) == list(scratch.open_nodes(root))
