"""Erlang C against published worked examples, and the ``outage staffing`` CLI contract."""

from __future__ import annotations

import math
import shlex

import orjson
import pytest
from typer.testing import CliRunner

from outage.cli import app
from playbooks.erlang import erlang_b, erlang_c, required_staff, service_level
from playbooks.errors import StaffingError


def _textbook_erlang_c(n: int, a: float) -> float:
    """The factorial form, fine for small N: the stable recursion must agree with it."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def test_call_centre_helper_worked_example() -> None:
    """Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example":
    100 calls in 30 minutes, AHT 180 s, 80% in 20 s, maximum occupancy 85%, shrinkage 30%.
    Traffic 10 Erlangs; at 11 agents P(wait) = 0.6821 and SL = 38.96%; the answer is 14 agents
    (SL 88.84%, occupancy 71.4%), i.e. 14 / (1 - 0.3) = 20 agents to roster."""
    assert erlang_c(11, 10.0) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(11, 10.0, 180, 20) == pytest.approx(0.3896, abs=5e-4)
    result = required_staff(
        100, 1800, 180, target_sl=0.8, target_answer_s=20, max_occupancy=0.85, shrinkage=0.3
    )
    assert (result.agents, result.positions) == (14, 20)
    assert result.service_level == pytest.approx(0.8884, abs=5e-4)
    assert result.occupancy == pytest.approx(10 / 14)
    # 13 agents fall just short of 80%: the search must not stop early.
    assert service_level(13, 10.0, 180, 20) < 0.8


def test_westbay_lokad_worked_example() -> None:
    """ "The Erlang-C formula" step-by-step example (Westbay Engineers; reproduced by Lokad):
    360 calls per half hour, 4 minute calls, 55 agents, 15 s target: traffic 48 Erlangs,
    occupancy 87.3%, P(wait) 24%, ASA about 8.2 s, service level about 84.6%."""
    wait = erlang_c(55, 48.0)
    assert wait == pytest.approx(0.2387, abs=5e-4)
    assert service_level(55, 48.0, 240, 15) == pytest.approx(0.846, abs=1e-3)
    assert wait * 240 / (55 - 48) == pytest.approx(8.2, abs=0.05)
    # 55 is also what an 84% / 15 s target asks for: 54 agents give only 79.3%.
    result = required_staff(360, 1800, 240, target_sl=0.84, target_answer_s=15)
    assert result.agents == 55
    assert result.asa_s == pytest.approx(8.18, abs=0.01)


@pytest.mark.parametrize(("n", "a"), [(1, 0.5), (5, 3.2), (20, 17.0), (60, 48.0), (120, 110.5)])
def test_recursion_matches_the_factorial_formula(n: int, a: float) -> None:
    assert erlang_c(n, a) == pytest.approx(_textbook_erlang_c(n, a), rel=1e-9)


def test_stable_where_factorials_overflow() -> None:
    # 2,000 Erlangs: 2000! has no float; the recursion still gives a proper probability.
    result = required_staff(24_000, 3600, 300, target_sl=0.8, target_answer_s=20)
    assert 2000 < result.agents < 2100
    assert 0 < result.p_wait < 1 and result.service_level >= 0.8
    assert 0 <= erlang_b(5000, 4000.0) < 1


def test_max_occupancy_binds_when_the_service_level_does_not() -> None:
    # A huge queue meets 80/20 at ~97% occupancy; an 85% cap asks for more agents.
    free = required_staff(2000, 900, 300, target_sl=0.8, target_answer_s=20)
    capped = required_staff(2000, 900, 300, target_sl=0.8, target_answer_s=20, max_occupancy=0.85)
    assert free.occupancy > 0.85 >= capped.occupancy
    assert capped.agents == math.ceil(free.traffic_erlangs / 0.85)


def test_no_calls_need_no_agents() -> None:
    result = required_staff(0, 1800, 180)
    assert (result.agents, result.positions, result.service_level) == (0, 0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"calls": -1}, "calls"),
        ({"aht_s": 0}, "aht_s"),
        ({"target_sl": 1.0}, "target_sl"),
        ({"shrinkage": 1.0}, "shrinkage"),
        ({"max_occupancy": 0}, "max_occupancy"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs: dict[str, float], field: str) -> None:
    args = {"calls": 100.0, "interval_s": 1800.0, "aht_s": 180.0} | kwargs
    with pytest.raises(StaffingError) as caught:
        required_staff(args.pop("calls"), args.pop("interval_s"), args.pop("aht_s"), **args)
    assert caught.value.field == field


cli = CliRunner()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (  # Call Centre Helper: 14 agents, 20 positions after 30% shrinkage
            "--calls 100 --interval-s 1800 --aht-s 180 --target-sl 0.8 --target-answer-s 20 "
            "--max-occupancy 0.85 --shrinkage 0.3",
            {"agents": 14, "positions": 20, "p_wait": 0.1741, "asa_s": 7.84},
        ),
        (  # Westbay: 55 agents; without shrinkage positions equal agents
            "--calls 360 --interval-s 1800 --aht-s 240 --target-sl 0.84 --target-answer-s 15 "
            "--max-occupancy 1 --shrinkage 0",
            {"agents": 55, "positions": 55, "p_wait": 0.2387, "asa_s": 8.18},
        ),
    ],
)
def test_staffing_cli_contract(args: str, expected: dict[str, float]) -> None:
    result = cli.invoke(app, ["staffing", *shlex.split(args)])
    assert result.exit_code == 0, result.stderr
    body = orjson.loads(result.stdout)
    assert {"agents", "positions", "service_level", "asa_s", "occupancy", "p_wait"} <= set(body)
    assert (body["agents"], body["positions"]) == (expected["agents"], expected["positions"])
    assert body["p_wait"] == pytest.approx(expected["p_wait"], abs=1e-4)
    assert body["asa_s"] == pytest.approx(expected["asa_s"], abs=0.01)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ("--calls 100 --interval-s 1800 --aht-s -5", "--aht-s"),
        ("--calls 100 --interval-s 0 --aht-s 180", "--interval-s"),
        ("--calls 100 --interval-s 1800 --aht-s 180 --target-sl 1.5", "--target-sl"),
        ("--calls many --interval-s 1800 --aht-s 180", "--calls"),
        ("--interval-s 1800 --aht-s 180", "--calls"),
    ],
)
def test_staffing_cli_rejects_bad_options_naming_them(args: str, named: str) -> None:
    result = cli.invoke(app, ["staffing", *shlex.split(args)])
    assert result.exit_code == 2
    assert named in result.stderr
    assert result.stdout == ""
