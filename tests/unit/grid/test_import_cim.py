"""grid.importers.cim: the CIMHub feeders in ../shared, cross-checked against the OpenDSS
import of the same feeder, and small CIM files written per test."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from grid.errors import GridFormatError
from grid.importers import load_source
from grid.importers.cim import import_cim
from grid.importers.opendss import import_opendss
from grid.model import GridTables
from grid.topology import Topology, build_topology
from tests.conftest import shared_path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cim"

# CIMHub names assets by class and name; the OpenDSS importer by element. The explicit map
# from a CIM asset id to its OpenDSS twin's (class prefix only: names agree, lower case).
CIM_TO_OPENDSS = {
    "energyconsumer.": "load.",
    "loadbreakswitch.": "line.",  # a switch=yes line in OpenDSS
    "breaker.": "relay.",  # CIMHub writes a Breaker as a switch line tripped by a Relay
    "recloser.": "recloser.",
    "fuse.": "fuse.",
    "powertransformer.": "transformer.",
}
KIND_TO_OPENDSS = {"breaker": "relay"}

# CIMHub's IEEE 13 (../shared/data/cim/IEEE13.xml) is the 13-node feeder with assets added:
# a breaker at the substation, a recloser, a fused service transformer, a sectionalising
# switch and a pole-top transformer with one house. Its OpenDSS twin is the shared IEEE 13
# with exactly those additions, written here as OpenDSS commands.
IEEE13X = """\
Redirect "{master}"
Edit Transformer.Reg1 buses=[brkr.1 rg60.1]
Edit Transformer.Reg2 buses=[brkr.2 rg60.2]
Edit Transformer.Reg3 buses=[brkr.3 rg60.3]
New Line.brkr1 phases=3 bus1=650 bus2=brkr switch=yes
New Relay.brkr1 MonitoredObj=Line.brkr1
Edit Line.632670 bus1=mid.1.2.3
New Line.rec1 phases=3 bus1=632 bus2=mid switch=yes
New Recloser.rec1 MonitoredObj=Line.rec1
Edit Transformer.XFM1 buses=[xf1 634]
New Line.fuse1 phases=3 bus1=633 bus2=xf1 switch=yes
New Fuse.fuse1 MonitoredObj=Line.fuse1
Edit Line.684611 bus1=tap.3
New Line.sect1 phases=1 bus1=684.3 bus2=tap.3 switch=yes
New Transformer.tpoletop phases=1 windings=3 buses=[670.1 house.1.0 house.0.2]
~ kvs=[2.4 0.12 0.12] kvas=[50 50 50]
New Load.house bus1=house.1.2 phases=1 kv=0.24 kw=5
"""


def to_opendss(asset: str) -> str:
    """The OpenDSS twin's id of a CIM asset id (`CIM_TO_OPENDSS`)."""
    for cim, dss in CIM_TO_OPENDSS.items():
        if asset.startswith(cim):
            return dss + asset.removeprefix(cim)
    return asset


def _imported(tables: GridTables) -> tuple[GridTables, Topology]:
    return tables, build_topology(tables)


@pytest.fixture(scope="module")
def cim13() -> tuple[GridTables, Topology]:
    return _imported(import_cim(shared_path("cim", "IEEE13.xml")))


@pytest.fixture(scope="module")
def cim123() -> tuple[GridTables, Topology]:
    return _imported(import_cim(shared_path("cim", "IEEE123.xml")))


@pytest.fixture(scope="module")
def dss13x(tmp_path_factory: pytest.TempPathFactory) -> tuple[GridTables, Topology]:
    master = shared_path("opendss", "IEEE13", "IEEE13Nodeckt.dss")
    path = tmp_path_factory.mktemp("ieee13x") / "IEEE13x.dss"
    path.write_text(IEEE13X.format(master=master))
    return _imported(import_opendss(path))


def _cross_check(cim: tuple[GridTables, Topology], dss: tuple[GridTables, Topology]) -> None:
    """Same premises, same protective devices (by kind), same chain and transformer for every
    premise, once CIM ids are mapped to the OpenDSS twin's."""
    (c, ct), (d, dt) = cim, dss
    assert sorted(to_opendss(p) for p in c.premises["id"]) == sorted(d.premises["id"])
    synthesised = {f["head"] for f in c.inferred["feeders"] if f["synthesised"]}
    cim_devices = dict(
        # a synthesised head has the same id and kind in both imports
        (i, k) if i in synthesised else (to_opendss(i), KIND_TO_OPENDSS.get(k, k))
        for i, k in zip(c.devices["id"], c.devices["kind"], strict=True)
    )
    dss_devices = dict(zip(d.devices["id"], d.devices["kind"], strict=True))
    assert cim_devices == dss_devices
    for premise in c.premises["id"]:
        ours, twin = ct.trace(premise), dt.trace(to_opendss(premise))
        chain = tuple(x if x in synthesised else to_opendss(x) for x in ours.devices)
        assert chain == twin.devices, premise
        transformer = ours.transformer
        if not transformer.startswith("transformer.bus_"):
            transformer = to_opendss(transformer)
        assert transformer == twin.transformer, premise


@pytest.mark.shared
def test_ieee13_matches_its_opendss_twin(
    cim13: tuple[GridTables, Topology], dss13x: tuple[GridTables, Topology]
) -> None:
    _cross_check(cim13, dss13x)


@pytest.mark.shared
def test_ieee123_matches_the_shared_opendss_feeder(cim123: tuple[GridTables, Topology]) -> None:
    dss = _imported(import_opendss(shared_path("opendss", "IEEE123")))
    _cross_check(cim123, dss)


@pytest.mark.shared
def test_ieee13(cim13: tuple[GridTables, Topology]) -> None:
    tables, topology = cim13
    # The file: 16 EnergyConsumer, Breaker brkr1, Recloser rec1, Fuse fuse1, LoadBreakSwitch
    # 671692 and sect1; the 115/4.16 kV sub3 is the substation.
    assert len(tables.premises) == 16
    assert dict(Counter(tables.devices["kind"])) == {
        "breaker": 1,
        "recloser": 1,
        "fuse": 1,
        "switch": 2,
    }
    assert list(tables.substations["id"]) == ["substation.ieee13nodeckt"]
    assert list(tables.feeders["head_device"]) == ["breaker.brkr1"]
    assert topology.trace("energyconsumer.611").devices == (
        "loadbreakswitch.sect1",
        "recloser.rec1",
        "breaker.brkr1",
    )
    assert topology.trace("energyconsumer.634a").transformer == "powertransformer.xfm1"
    # mRIDs are kept, the model's own Substation and Feeder included
    devices = tables.devices.set_index("id")
    assert devices.loc["breaker.brkr1", "mrid"] == "52DE9189-20DC-4C73-BDEE-E960FE1F9493"
    assert tables.substations["mrid"].iloc[0] == "6C62C905-6FC7-653D-9F1E-1340F974A587"
    assert tables.feeders["mrid"].iloc[0] == "49AD8E07-3BF9-A4E2-CB8F-C3722F837B62"
    assert (tables.premises["mrid"] != "").all()
    # The head breaker reports to SCADA by default; the file holds no measurements.
    scada = dict(zip(topology.device_ids, topology.device_scada, strict=True))
    assert scada == {d: d == "breaker.brkr1" for d in topology.device_ids}
    assert tables.inferred["coordinates"]["kind"] == "local XY"


@pytest.mark.shared
def test_ieee37() -> None:
    tables, topology = _imported(import_cim(shared_path("cim", "IEEE37.xml")))
    # 30 EnergyConsumer; no switch at all: a head breaker is synthesised behind the regulator
    assert len(tables.premises) == 30
    assert dict(Counter(tables.devices["kind"])) == {"breaker": 1}
    assert list(tables.feeders["head_device"]) == ["breaker.ieee37"]
    inferred = tables.inferred
    assert inferred["substations"][0]["transformers"] == ["powertransformer.subxf"]
    assert inferred["substations"][0]["regulators"] == ["powertransformer.reg1"]
    # xfm1 (4.8/0.48 kV to bus 775, where no load stands) is the one service transformer;
    # every load is on the primary and gets a synthesised transformer per bus
    assert "powertransformer.xfm1" in set(tables.transformers["id"])
    served = {topology.trace(p).transformer for p in tables.premises["id"]}
    assert all(t.startswith("transformer.bus_") for t in served)
    for premise in tables.premises["id"]:
        assert topology.trace(premise).devices == ("breaker.ieee37",)


@pytest.mark.shared
def test_ieee123(cim123: tuple[GridTables, Topology]) -> None:
    tables, topology = cim123
    assert len(tables.premises) == 91
    # sw7, sw8 open; sw1 leaves the substation: a disconnect, below a synthesised breaker
    assert dict(Counter(tables.devices["kind"])) == {"breaker": 1, "switch": 6, "tie": 2}
    assert list(tables.feeders["head_device"]) == ["breaker.sw1"]
    ties = {t["id"]: t["feeders"] for t in tables.inferred["ties"]}
    assert ties == {
        "loadbreakswitch.sw7": ["feeder.ieee123", "feeder.ieee123"],
        "loadbreakswitch.sw8": ["feeder.ieee123", "feeder.ieee123"],
    }
    assert topology.trace("energyconsumer.s68a").devices == (
        "loadbreakswitch.sw4",
        "loadbreakswitch.sw2",
        "loadbreakswitch.sw1",
        "breaker.sw1",
    )


# ---------------------------------------------------------------------------------------------
# A small CIM file written for these tests


@pytest.fixture(scope="module")
def geo() -> tuple[GridTables, Topology]:
    return _imported(load_source(FIXTURES / "two_feeders_geo.xml", "cim"))


def test_two_feeders_with_a_tie_sectionaliser_and_a_tank_bank(
    geo: tuple[GridTables, Topology],
) -> None:
    tables, topology = geo
    assert list(tables.feeders["head_device"]) == ["breaker.cb-a", "recloser.r-b"]
    assert topology.trace("energyconsumer.house1").devices == (
        "fuse.f-a",
        "sectionaliser.s-a",
        "breaker.cb-a",
    )
    assert topology.trace("energyconsumer.house1").transformer == "powertransformer.bank7"
    assert topology.trace("energyconsumer.plant2").devices == ("recloser.r-b",)
    devices = tables.devices.set_index("id")
    assert devices.loc["sectionaliser.s-a", "kind"] == "sectionalizer"
    # the recloser's terminals run from b0 to the bus: the head is turned to face away
    assert devices.loc["recloser.r-b", ["from_bus", "to_bus"]].tolist() == ["bus12", "b0"]
    tie = devices.loc["disconnector.tie-ab"]
    assert (tie["kind"], tie["normal_state"], tie["feeder"], tie["to_feeder"]) == (
        "tie",
        "open",
        "feeder.breaker.cb-a",
        "feeder.recloser.r-b",
    )
    assert tables.transformers.set_index("id").loc["powertransformer.bank7", "kva"] == 25.0


def test_a_breaker_with_a_measurement_is_telemetered(geo: tuple[GridTables, Topology]) -> None:
    tables, topology = geo
    assert tables.devices.set_index("id").loc["breaker.cb-a", "scada"] == "true"
    scada = dict(zip(topology.device_ids, topology.device_scada, strict=True))
    assert scada["breaker.cb-a"] and not scada["recloser.r-b"] and not scada["fuse.f-a"]


def test_geographic_coordinates_are_used_as_they_are(geo: tuple[GridTables, Topology]) -> None:
    tables, _ = geo
    assert tables.inferred["coordinates"]["kind"].startswith("geographic")
    premise = tables.premises.set_index("id").geometry["energyconsumer.house1"]
    assert (premise.x, premise.y) == pytest.approx((-84.3910, 33.7520), abs=5e-5)  # +2 m ring
    substation = tables.substations.geometry.iloc[0]
    assert (substation.x, substation.y) == pytest.approx((-84.3881, 33.7491), abs=1e-9)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.xml"
    path.write_text(
        '<rdf:RDF xmlns:cim="http://iec.ch/TC57/CIM100#" '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' + body + "</rdf:RDF>"
    )
    return path


def test_bad_input_names_file_element_and_reason(tmp_path: Path) -> None:
    with pytest.raises(GridFormatError, match="no such file"):
        import_cim(tmp_path / "absent.xml")
    broken = tmp_path / "broken.xml"
    broken.write_text("<rdf:RDF><cim:Breaker>\n")
    with pytest.raises(GridFormatError, match="not well-formed XML") as caught:
        import_cim(broken)
    assert caught.value.file == str(broken)
    with pytest.raises(GridFormatError, match="no EnergySource"):
        import_cim(_write(tmp_path, ""))
    dangling = (
        '<cim:EnergySource rdf:about="urn:uuid:ES"/>'
        '<cim:Terminal rdf:about="urn:uuid:T1"><cim:Terminal.ConductingEquipment '
        'rdf:resource="urn:uuid:ES"/><cim:Terminal.ConnectivityNode rdf:resource="urn:uuid:NX"/>'
        "</cim:Terminal>"
    )
    with pytest.raises(GridFormatError, match=r"Terminal .*mRID T1.*ConnectivityNode NX"):
        import_cim(_write(tmp_path, dangling))
    one_ended = (
        '<cim:ConnectivityNode rdf:about="urn:uuid:N1"><cim:IdentifiedObject.name>n1'
        "</cim:IdentifiedObject.name></cim:ConnectivityNode>"
        '<cim:EnergySource rdf:about="urn:uuid:ES"/>'
        '<cim:Terminal rdf:about="urn:uuid:T1"><cim:Terminal.ConductingEquipment '
        'rdf:resource="urn:uuid:ES"/><cim:Terminal.ConnectivityNode rdf:resource="urn:uuid:N1"/>'
        "</cim:Terminal>"
        '<cim:Breaker rdf:about="urn:uuid:B1"><cim:IdentifiedObject.name>cb7'
        "</cim:IdentifiedObject.name></cim:Breaker>"
        '<cim:Terminal rdf:about="urn:uuid:T2"><cim:Terminal.ConductingEquipment '
        'rdf:resource="urn:uuid:B1"/><cim:Terminal.ConnectivityNode rdf:resource="urn:uuid:N1"/>'
        "</cim:Terminal>"
    )
    with pytest.raises(GridFormatError, match=r"Breaker 'cb7' \(mRID B1\): has 1 terminal"):
        import_cim(_write(tmp_path, one_ended))
