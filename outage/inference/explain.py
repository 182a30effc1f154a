"""A prediction in numbers an officer can read.

For an open asset: how many of its premises reported and over how long, what its nearest
candidate above saw outside it, and by how much (in log-odds) this explanation beats the next
best one — opening the asset above instead, or explaining the reports by assets below it.
"""

from __future__ import annotations

from typing import Any

from grid.topology import Topology
from outage.inference.likelihood import MICRO
from outage.inference.tree import NEVER, InferenceTree


def _asset_id(tree: InferenceTree, topology: Topology, node: int) -> str:
    level, number = tree.asset(node)
    return topology.device_ids[number] if level == "device" else topology.transformer_ids[number]


def explain(tree: InferenceTree, node: int, topology: Topology) -> dict[str, Any]:
    """The numbers behind the prediction at ``node`` (see the module docstring)."""
    asset = _asset_id(tree, topology, node)
    tree.refresh(node)
    minutes = (tree.clock - tree.s[node]) / 60 if tree.s[node] < NEVER else 0.0
    reported = tree.k[node]
    out: dict[str, Any] = {
        "asset": asset,
        "premises": tree.n[node],
        "reporting": reported,
        "last_gasps": tree.g[node],
        "minutes_since_first_report": round(max(minutes, 0.0), 1),
        "forced": tree.forced[node],
    }
    below = tree.margin(node) / MICRO
    out["log_odds_over_assets_below"] = round(below, 1)
    margins = [below]
    above = tree.parent[node]
    while above != -1 and tree.prior[above] is None:
        above = tree.parent[above]
    if above != -1:
        parent_id = _asset_id(tree, topology, above)
        others = tree.n[above] - tree.n[node]
        other_reports = tree.k[above] - reported
        over_parent = -tree.margin(above) / MICRO
        out["above"] = {
            "asset": parent_id,
            "other_premises": others,
            "other_reporting": other_reports,
            "log_odds_over_it": round(over_parent, 1),
        }
        margins.append(over_parent)
    best = min(margins)
    out["log_odds_over_next_best"] = round(best, 1)
    since = out["minutes_since_first_report"]
    text = f"{asset}: {reported} of {tree.n[node]} premises reported in {since:g} min"
    if "above" in out:
        a = out["above"]
        text += (
            f"; the {a['other_premises']} other premises under {a['asset']}: "
            f"{a['other_reporting']} reports"
        )
    text += f"; log-odds {best:+.0f} over the next-best explanation"
    if tree.forced[node]:
        text = f"{asset}: a fact (SCADA, planned work or an officer), not a prediction; " + text
    service = tree.service_premise(node)
    if service is not None:
        whole, single = tree.halves(node)
        alone = whole if single is None else single
        out["service_premise"] = topology.premise_ids[service]
        out["log_odds_service_over_transformer"] = round(alone - whole, 1)
        text += (
            f"; {topology.premise_ids[service]} alone (its own service): "
            f"log-odds {alone - whole:+.1f} over the whole transformer"
        )
    out["text"] = text
    return out
