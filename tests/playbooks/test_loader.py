"""Playbook and roster files: the shipped library loads; errors name file, line and field."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from outage.cli import app
from playbooks.errors import PlaybookFileError
from playbooks.loader import LIBRARY, load_playbook, load_playbooks
from playbooks.roster import load_roster

SHIPPED = {
    "typhoon-rainstorm-standby",
    "storm-declared",
    "feeder-lockout",
    "call-surge",
    "heat-wave",
    "planned-outage-notice",
    "sla-overdue",
}
GOOD = """\
id: ok
title: OK
purpose: test
when:
  all:
    - storm_declared: {scope: system}
    - call_rate: {multiple: 3}
then:
  - staffing: {aht_s: 240}
"""


def test_the_shipped_library_loads_with_its_roster() -> None:
    loaded = load_playbooks()
    assert {p.playbook.id for p in loaded} == SHIPPED
    roster = load_roster(LIBRARY / "roster.yaml")
    assert len(roster) >= 10
    priorities = [e.priority for e in roster.entries]
    assert priorities == sorted(priorities)
    for item in loaded:  # every staffing step points at a roster that exists
        for step in item.playbook.then:
            if step.kind == "staffing":
                assert (item.folder / step.params.roster).is_file()


def write(tmp_path: Path, text: str, name: str = "pb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("multiple: 3", "multiple: 0.5", 7, "when.all.1.call_rate.multiple", "greater than 1"),
        ("aht_s: 240", "aht_secs: 240", 9, "then.0.staffing.aht_secs", "Extra inputs"),
        ("    - storm_declared: {scope: system}\n", "    - {}\n", 6, "when.all.0", "exactly one"),
        ("title: OK\n", "", None, "title", "Field required"),
    ],
)
def test_validation_errors_name_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int | None, field: str, message: str
) -> None:
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(PlaybookFileError) as caught:
        load_playbook(path)
    error = caught.value
    assert error.path == str(path) and error.field == field and message in error.detail
    if line is not None:
        assert error.line == line and str(error).startswith(f"{path}:{line}: {field}: ")


def test_schedule_must_name_steps_of_then(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "schedule:\n  - {every_minutes: 15, run: [stafing]}\n")
    with pytest.raises(PlaybookFileError, match="stafing") as caught:
        load_playbook(path)
    assert "steps: staffing" in str(caught.value)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("then:", "then: [unclosed"))
    with pytest.raises(PlaybookFileError) as caught:
        load_playbook(path)
    assert caught.value.line is not None and "not valid YAML" in str(caught.value)


def test_two_playbooks_with_one_id_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(PlaybookFileError, match="already used"):
        load_playbooks([tmp_path])


def test_roster_errors_name_file_line_and_field(tmp_path: Path) -> None:
    csv = write(tmp_path, "name,role,phone,priority\nA,agent,+861,1\nB,agent,+862,soon\n", "r.csv")
    with pytest.raises(PlaybookFileError) as caught:
        load_roster(csv)
    assert (caught.value.line, caught.value.field) == (3, "priority")
    yml = write(tmp_path, "standby:\n  - {name: A, phone: '+861'}\n  - {name: B}\n", "r.yaml")
    with pytest.raises(PlaybookFileError) as caught:
        load_roster(yml)
    assert (caught.value.line, caught.value.field) == (3, "standby.1.phone")


def test_csv_roster_pages_in_priority_then_file_order(tmp_path: Path) -> None:
    csv = write(tmp_path, "name,phone,priority\nC,+863,2\nA,+861,1\nB,+862,1\n", "r.csv")
    assert [e.name for e in load_roster(csv).entries] == ["A", "B", "C"]


cli = CliRunner()


def test_validate_cli(tmp_path: Path) -> None:
    result = cli.invoke(app, ["playbooks", "validate"])
    assert result.exit_code == 0, result.stderr
    assert {"typhoon-rainstorm-standby", "planned-outage-notice"} <= {
        p["id"] for p in orjson.loads(result.stdout)["valid"]
    }
    bad = write(tmp_path, GOOD.replace("multiple: 3", "multiple: 0.5"))
    result = cli.invoke(app, ["playbooks", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:7" in result.stderr.replace("\n", "") and "call_rate.multiple" in result.stderr
