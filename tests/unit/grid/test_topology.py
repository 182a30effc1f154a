"""The radial trace: chains, counts and per-device views on the tiny feeder."""

from __future__ import annotations

import pandas as pd
import pytest

from grid.errors import AssetNotFound
from grid.model import GridTables
from grid.topology import NO_DEVICE, build_topology


def test_trace_lists_devices_nearest_first(tiny: GridTables) -> None:
    topo = build_topology(tiny)
    assert topo.trace("p3").to_dict() == {
        "premise": "p3",
        "transformer": "tx.2",
        "devices": ["fuse.2", "rec.1", "brk.1"],
        "feeder": "fdr.1",
        "substation": "sub.a",
    }
    assert topo.trace("p1").devices == ("fuse.1", "brk.1")


def test_unknown_premise_is_a_clear_error(tiny: GridTables) -> None:
    with pytest.raises(AssetNotFound, match="no premise with id 'nope'"):
        build_topology(tiny).trace("nope")


def test_downstream_counts_sum_over_children(tiny: GridTables) -> None:
    topo = build_topology(tiny)
    count = dict(zip(topo.device_ids, topo.device_customers.tolist(), strict=True))
    assert count == {"brk.1": 4, "rec.1": 2, "fuse.1": 2, "fuse.2": 2, "tie.1": 0}
    transformers = dict(zip(topo.device_ids, topo.device_transformer_count.tolist(), strict=True))
    assert transformers == {"brk.1": 3, "rec.1": 2, "fuse.1": 1, "fuse.2": 2, "tie.1": 0}
    assert topo.branch_count(topo.device_index["brk.1"]) == 2  # rec.1 and fuse.1
    premises = topo.premises_below(topo.device_index["rec.1"])
    assert sorted(topo.premise_ids[p] for p in premises) == ["p3", "p4"]


def test_open_tie_is_outside_the_tree(tiny: GridTables) -> None:
    topo = build_topology(tiny)
    tie = topo.device_index["tie.1"]
    assert topo.device_parent[tie] == NO_DEVICE
    assert topo.device_chain[tie] == ()
    assert not topo.device_closed[tie]


def test_parents_children_and_ancestry(tiny: GridTables) -> None:
    topo = build_topology(tiny)
    idx = topo.device_index
    assert topo.device_parent[idx["fuse.2"]] == idx["rec.1"]
    assert sorted(topo.device_ids[c] for c in topo.device_children[idx["brk.1"]]) == [
        "fuse.1",
        "rec.1",
    ]
    assert topo.is_below(idx["fuse.2"], idx["brk.1"])
    assert not topo.is_below(idx["fuse.1"], idx["rec.1"])
    assert [topo.device_ids[d] for d in topo.devices_below(idx["rec.1"])] == ["rec.1", "fuse.2"]


def test_device_orientation_comes_from_the_walk_not_the_file(tiny: GridTables) -> None:
    tiny.devices.loc[tiny.devices["id"] == "rec.1", ["from_bus", "to_bus"]] = ["b3", "b2"]
    assert build_topology(tiny).trace("p4").devices == ("fuse.2", "rec.1", "brk.1")


def test_customers_table_sets_customer_counts(tiny: GridTables) -> None:
    tiny.customers = pd.DataFrame(
        {
            "account": ["a1", "a2", "a3"],
            "premise": ["p3", "p3", "p1"],
            "phone": ["", "", ""],
            "name": ["", "", ""],
            "address": ["", "", ""],
            "language": ["en", "en", "zh-CN"],
            "sms_opt_in": [True, False, True],
            "priority": ["normal"] * 3,
        }
    )
    topo = build_topology(tiny)
    assert topo.customer_count == 3
    assert int(topo.device_customers[topo.device_index["rec.1"]]) == 2
    assert int(topo.device_premises[topo.device_index["rec.1"]]) == 2  # p4 has no account


def test_sections_know_their_nearest_device(tiny: GridTables) -> None:
    topo = build_topology(tiny)
    section_device = {
        s: topo.device_ids[d]
        for s, d in zip(topo.section_ids, topo.section_device.tolist(), strict=True)
    }
    assert section_device == {
        "s1": "brk.1",
        "s2": "rec.1",
        "s3": "fuse.1",
        "s4": "fuse.2",
        "s5": "fuse.2",
    }
