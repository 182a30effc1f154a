"""Restoration-time history: log-normal cells checked against scipy, the fit against the
closed-form estimates it must reduce to, and the lookup chain."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from outage.errors import RulesError
from outage.restoration.history import (
    ANY,
    Cell,
    RepairHistory,
    Restoration,
    chain,
    fit,
)


def _dist(cell: Cell) -> stats.rv_continuous:
    return stats.lognorm(s=cell.sigma, scale=cell.median)


@pytest.mark.parametrize(("median", "sigma"), [(90.0, 0.6), (240.0, 0.9), (30.0, 0.3)])
@pytest.mark.parametrize("q", [0.5, 0.8, 0.95])
def test_quantile_is_the_lognormal_quantile(median: float, sigma: float, q: float) -> None:
    cell = Cell(median=median, sigma=sigma)
    assert cell.quantile(q) == pytest.approx(_dist(cell).ppf(q), rel=1e-9)


@pytest.mark.parametrize("elapsed", [10.0, 90.0, 400.0])
def test_conditional_quantile_given_time_already_passed(elapsed: float) -> None:
    cell = Cell(median=90.0, sigma=0.6)
    d = _dist(cell)
    expected = d.ppf(d.cdf(elapsed) + 0.8 * d.sf(elapsed))
    assert cell.quantile(0.8, elapsed) == pytest.approx(expected, rel=1e-7)
    assert cell.quantile(0.8, elapsed) > elapsed


@pytest.mark.parametrize("elapsed", [0.0, 30.0, 120.0, 300.0])
def test_remaining_mean_is_the_mean_residual_life(elapsed: float) -> None:
    cell = Cell(median=90.0, sigma=0.6)
    d = _dist(cell)
    # E[T - e | T > e] = integral of the survival function beyond e, over S(e).
    tail, _ = integrate.quad(d.sf, elapsed, np.inf)
    assert cell.remaining_mean(elapsed) == pytest.approx(tail / d.sf(elapsed), rel=1e-6)
    assert cell.mean == pytest.approx(d.mean(), rel=1e-9)
    assert cell.variance == pytest.approx(d.var(), rel=1e-9)


def test_fit_without_prior_weight_is_the_maximum_likelihood_estimate() -> None:
    rng = np.random.default_rng(7)
    durations = rng.lognormal(mean=math.log(100), sigma=0.5, size=400)
    rows = [Restoration("fuse", "tree", "day", "normal", float(d), None) for d in durations]
    prior = RepairHistory.default()
    prior.prior_weight = 0.0
    fitted = fit(rows, prior)
    cell = fitted.cell("outage", ("fuse", "tree", "day", "normal"))
    logs = np.log(durations)
    assert cell.n == 400
    assert cell.median == pytest.approx(math.exp(logs.mean()), rel=1e-3)
    assert cell.sigma == pytest.approx(logs.std(ddof=0), abs=1e-3)


def test_a_cell_with_few_restorations_stays_near_its_parent() -> None:
    rng = np.random.default_rng(3)
    many = rng.lognormal(mean=math.log(100), sigma=0.4, size=200)
    rows = [Restoration("fuse", "tree", "day", "normal", float(d), None) for d in many]
    rows.append(Restoration("fuse", "vehicle", "day", "normal", 1000.0, None))  # one odd job
    fitted = fit(rows, RepairHistory.default())  # prior weight 10
    parent = fitted.cell("outage", ("fuse", ANY, "day", "normal"))
    odd = fitted.cell("outage", ("fuse", "vehicle", "day", "normal"))
    assert odd.n == 1
    # posterior mean of the log: (1 x ln 1000 + 10 x parent mu) / 11
    expected = (math.log(1000.0) + 10 * parent.mu) / 11
    assert math.log(odd.median) == pytest.approx(expected, abs=1e-3)


def test_lookup_falls_back_along_the_chain() -> None:
    history = RepairHistory.default()
    assert chain(("fuse", "tree", "night", "storm"))[-1] == (ANY, ANY, ANY, ANY)
    known = history.cell("repair", ("fuse", "tree", "night", "normal"))
    assert known.key == ("fuse", ANY, ANY, "normal")
    unknown_kind = history.cell("repair", ("tie", "tree", "night", "storm"))
    assert unknown_kind.key == (ANY, ANY, ANY, "storm")
    assert history.cell("outage", ("fuse", ANY, ANY, "storm")).median > known.median


def test_a_fitted_table_round_trips_through_yaml(tmp_path: Path) -> None:
    rows = [Restoration("transformer", "unknown", "night", "normal", 200.0, 90.0)] * 5
    fitted = fit(rows, RepairHistory.default(), source="test")
    path = tmp_path / "history.yaml"
    path.write_text(fitted.dump())
    loaded = RepairHistory.load(path)
    key = ("transformer", "unknown", "night", "normal")
    assert loaded.cell("outage", key) == fitted.cell("outage", key)
    assert loaded.cell("repair", key).n == 5


def test_bad_history_files_name_the_file_and_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("outage:\n  - {kind: fuse\n")
    with pytest.raises(RulesError, match=r"broken\.yaml:\d+: not valid YAML"):
        RepairHistory.load(broken)
    no_fallback = tmp_path / "nofallback.yaml"
    no_fallback.write_text(
        "outage: [{kind: fuse, median: 60, sigma: 0.5}]\nrepair: [{median: 30, sigma: 0.5}]\n"
    )
    with pytest.raises(RulesError, match=r"nofallback\.yaml: outage: needs a cell"):
        RepairHistory.load(no_fallback)
    negative = tmp_path / "negative.yaml"
    negative.write_text("outage: [{median: -1, sigma: 0.5}]\nrepair: [{median: 30, sigma: 0.5}]\n")
    with pytest.raises(RulesError, match=r"negative\.yaml: outage\.0\.median"):
        RepairHistory.load(negative)
