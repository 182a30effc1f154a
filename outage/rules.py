"""Prediction and storm rules: declarative, YAML, validated, with documented defaults.

A rules file has two prediction rule sets, ``normal`` and ``storm`` (the engine switches to
``storm`` while a system-wide storm is declared), and the storm detector's thresholds::

    normal:
      window_minutes: 60              # reports older than this do not group with a new one
      min_transformers: {fuse: 2, switch: 3, recloser: 3, breaker: 4, ...}
      min_coverage: {fuse: 0.0, switch: 0.5, recloser: 0.5, breaker: 0.5, ...}
      min_share: {fuse: 0.3, switch: 0.15, recloser: 0.15, breaker: 0.15, ...}
      escalate_children: {fuse: 2, switch: 3, recloser: 3, breaker: 3, ...}
      all_reported: true              # every customer below a device reported -> that device
    storm: {...same keys...}
    storm_detection:
      system: {customers_out_share: 0.05, open_incidents: 20, call_rate_multiple: 5.0, ...}
      substation: {...}

A device qualifies for a prediction when, counting only reports within the window from
*predicted* (not yet confirmed) incidents below it, every customer below it reported
(``all_reported``), or distinct reporting transformers >= ``min_transformers[kind]`` and at
least one of these, each measured *outside the branch with the most coverage* (a branch is a
direct child device, or a transformer fed with no device in between):

* coverage — customers already predicted out / customers — >= ``min_coverage[kind]``;
* reporting customers / customers >= ``min_share[kind]``;
* branches holding a device-level prediction >= ``escalate_children[kind]`` (with at least
  half the coverage asked for above).

Reports must also come from ``min_outside_branches[kind]`` branches besides the biggest, and
``strong_transformers[kind]`` distinct reporting transformers (with that spread) suffice on
their own — what feeders without fuses or meters give.

Leaving the biggest branch out is what keeps a recloser outage, which alone may cover two
thirds of its feeder, from implicating the feeder breaker: the breaker's *other* branches must
report too. A device with a premise shown energised since the first of those reports never
qualifies. A single report predicts its service transformer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from outage.errors import RulesError

DeviceKind = Literal["breaker", "recloser", "relay", "fuse", "sectionalizer", "switch", "tie"]
Share = Annotated[float, Field(gt=0, le=1)]
Count = Annotated[int, Field(ge=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _per_kind(fuse: float, mid: float, recloser: float, head: float) -> dict[str, float]:
    return {
        "fuse": fuse,
        "switch": mid,
        "sectionalizer": mid,
        "tie": mid,
        "recloser": recloser,
        "relay": head,
        "breaker": head,
    }


class PredictionRules(_Strict):
    """How calls and last gasps roll up to the device that must have opened."""

    window_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 60
    min_transformers: dict[DeviceKind, Count] = Field(
        default_factory=lambda: {k: int(v) for k, v in _per_kind(2, 3, 3, 4).items()}
    )
    min_coverage: dict[DeviceKind, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: _per_kind(0.0, 0.5, 0.5, 0.5)
    )
    min_share: dict[DeviceKind, Share] = Field(
        default_factory=lambda: _per_kind(0.3, 0.15, 0.15, 0.15)
    )
    escalate_children: dict[DeviceKind, Count] = Field(
        default_factory=lambda: {k: int(v) for k, v in _per_kind(2, 3, 3, 3).items()}
    )
    #: Reporting branches needed besides the biggest one (spread, not one busy lateral).
    min_outside_branches: dict[DeviceKind, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: {k: int(v) for k, v in _per_kind(1, 2, 2, 2).items()}
    )
    #: This many distinct reporting transformers (with the spread above) suffice on their own:
    #: feeders without fuses, whose transformers hang straight off switched sections.
    strong_transformers: dict[DeviceKind, Count] = Field(
        default_factory=lambda: {k: int(v) for k, v in _per_kind(2, 6, 8, 10).items()}
    )
    all_reported: bool = True
    #: A restored incident auto-closes this long after restoration (event time).
    close_after_minutes: Annotated[float, Field(gt=0)] = 120
    #: Interruptions shorter than this are momentary (IEEE 1366) and left out of SAIFI/SAIDI.
    momentary_minutes: Annotated[float, Field(ge=0)] = 5


def _storm_prediction() -> PredictionRules:
    # In a storm calls trickle in over hours and many faults are independent: group reports
    # over a longer window, but ask for more evidence before escalating above a fuse so that
    # separate laterals under one recloser are not merged into one wrong prediction.
    return PredictionRules(
        window_minutes=180,
        min_transformers={k: int(v) for k, v in _per_kind(2, 4, 4, 5).items()},  # type: ignore[misc]
        min_coverage=_per_kind(0.0, 0.6, 0.6, 0.6),  # type: ignore[arg-type]
        min_share=_per_kind(0.3, 0.2, 0.2, 0.15),  # type: ignore[arg-type]
        escalate_children={k: int(v) for k, v in _per_kind(2, 4, 4, 4).items()},  # type: ignore[misc]
        strong_transformers={k: int(v) for k, v in _per_kind(2, 8, 10, 14).items()},  # type: ignore[misc]
    )


class StormThresholds(_Strict):
    """When a scope (the system or one substation) is in storm / mass-outage conditions."""

    customers_out_share: Share = 0.05
    customers_out_min: Annotated[int, Field(ge=0)] = 500
    open_incidents: Count = 20
    call_rate_multiple: Annotated[float, Field(gt=1)] = 5.0
    #: Calls in the rate window below this never count as a surge (quiet-hour noise).
    call_rate_min_calls: Count = 30
    rate_window_minutes: Annotated[float, Field(gt=0, le=240)] = 15
    #: Stand down once every metric stays below ``stand_down_fraction`` of its threshold...
    stand_down_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.5
    #: ...for this long.
    stand_down_minutes: Annotated[float, Field(gt=0)] = 60


class StormDetection(_Strict):
    """Storm thresholds system-wide and per substation, and the normal call baseline."""

    system: StormThresholds = StormThresholds()
    substation: StormThresholds = StormThresholds(
        customers_out_share=0.10, customers_out_min=200, open_incidents=8, call_rate_min_calls=15
    )
    #: Normal calls per hour per 10,000 customers, by local hour of day (0..23).
    baseline_calls_per_hour_per_10k: Annotated[list[float], Field(min_length=24, max_length=24)] = [
        0.6,
        0.4,
        0.3,
        0.3,
        0.3,
        0.5,
        1.0,
        1.8,
        2.5,
        2.8,
        2.8,
        2.6,
        2.4,
        2.4,
        2.5,
        2.6,
        2.8,
        3.2,
        3.6,
        3.6,
        3.0,
        2.2,
        1.4,
        0.9,
    ]
    timezone: str = "Asia/Shanghai"


class Rules(_Strict):
    """Everything configurable about prediction and storm detection."""

    normal: PredictionRules = PredictionRules()
    storm: PredictionRules = Field(default_factory=_storm_prediction)
    storm_detection: StormDetection = StormDetection()


def load_rules(path: Path | None) -> Rules:
    """Read a rules YAML file (missing keys take defaults); None gives the defaults."""
    if path is None:
        return Rules()
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise RulesError(f"{path}: cannot read rules file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RulesError(f"{path}{line}: not valid YAML ({exc})") from exc
    try:
        return Rules.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise RulesError(f"{path}: {problems}") from None


def dump_default_rules() -> str:
    """The default rules as YAML (``outage rules --defaults``, and the README)."""
    return yaml.safe_dump(Rules().model_dump(mode="json"), sort_keys=False, allow_unicode=True)
