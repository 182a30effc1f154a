"""Inference parameters and storm rules: declarative YAML, validated, every default documented.

The engine infers which devices are open by weighing all the evidence at once (see
`outage.inference`). This file holds the numbers that model needs — what an outage makes
customers and meters do, how often each kind of device opens — and the storm detector's
thresholds. There are no roll-up thresholds: a prediction is the most probable explanation
of the evidence under these parameters. A rules file::

    inference:                        # how evidence arises (shared by both rule sets)
      call_share: {mean: 0.15, concentration: 12}
      call_delay: {median_minutes: 8, sigma: 1.0}
      noise_share: 1.0e-6
      ...
    normal:                           # how often devices open in normal weather
      prior_open: {transformer: 1.0e-3, fuse: 1.0e-3, ...}
    storm:                            # ...and while a system-wide storm is declared
      prior_open: {transformer: 3.0e-3, fuse: 1.0e-2, ...}
    storm_detection:
      system: {customers_out_share: 0.05, open_incidents: 20, call_rate_multiple: 5.0, ...}
      substation: {...}

Missing keys take their defaults; unknown keys are errors that name the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from outage.configfile import load_model
from outage.restoration.config import RestorationRules

DeviceKind = Literal["breaker", "recloser", "relay", "fuse", "sectionalizer", "switch", "tie"]
#: What can be open: a device kind, or a service transformer.
AssetKind = Literal[
    "transformer", "breaker", "recloser", "relay", "fuse", "sectionalizer", "switch", "tie"
]
OutageKind = Literal["no_power", "partial_power", "wire_down", "fire"]
WeakKind = Literal["flicker", "other"]
Probability = Annotated[float, Field(gt=0, lt=1)]
Share = Annotated[float, Field(gt=0, le=1)]
Count = Annotated[int, Field(ge=1)]
#: A log-likelihood ratio in nats (natural log): +1 makes a hypothesis e ≈ 2.7 times likelier.
Nats = Annotated[float, Field(ge=-50, le=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CallShare(_Strict):
    """Share of the customers of an outage who call about it (a Beta distribution over it).

    Each outage has its own share — long outages, evenings and storms differ — so the model
    does not fix it but integrates over Beta(mean × concentration, (1 − mean) × concentration).
    A higher concentration trusts ``mean`` more and makes silence stronger evidence.
    """

    mean: Annotated[float, Field(gt=0, lt=1)] = 0.15
    #: 20 puts 95% of outages between about 3.5% and 33% of their customers calling, the
    #: range hotlines see for sustained outages.
    concentration: Annotated[float, Field(gt=0.5, le=1000)] = 20.0


class CallDelay(_Strict):
    """Minutes from the start of an outage to a caller's first call: lognormal."""

    median_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 8.0
    sigma: Annotated[float, Field(gt=0, le=4)] = 1.0


class MeterLag(_Strict):
    """Minutes from the start of an outage until a meter's last gasp reaches us (head-end
    latency, store-and-forward meshes, batched polling): lognormal."""

    median_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 3.0
    sigma: Annotated[float, Field(gt=0, le=4)] = 1.2


class InferenceModel(_Strict):
    """How evidence arises from open devices (see `outage.inference.likelihood`)."""

    call_share: CallShare = CallShare()
    call_delay: CallDelay = CallDelay()
    #: Probability that a premise WITH power makes an outage report in an evidence epoch
    #: (a tripped house breaker, a wrong number). One lone report then still opens a ticket
    #: on its service transformer (prior × mean call share > noise), unless the premise has a
    #: meter that reports and it sent no last gasp: then it is a customer-side matter.
    noise_share: Annotated[float, Field(gt=0, lt=0.01)] = 1.5e-4
    #: Extra log-likelihood ratio of a report's kind, given that the premise called about
    #: power: a plain "no power" is the most specific; hazard callers often still have power.
    kind_llr: dict[OutageKind, Nats] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "no_power": 0.9,
            # "Some lights are out" comes from premises with power (brownouts, a lost phase
            # in the house) far more often than "no power" does: alone it is a service
            # matter; beside other reports it still counts.
            "partial_power": -3.0,
            "wire_down": -0.5,
            "fire": -0.5,
        }
    )
    #: Weak reports that do not count as "called about no power" but still lean towards an
    #: outage when one covers the premise (log-likelihood ratio per premise).
    weak_llr: dict[WeakKind, Nats] = Field(
        default_factory=lambda: {"flicker": 0.5, "other": 0.2}  # type: ignore[arg-type]
    )
    #: Share of the out premises of an outage whose meter's last gasp reaches us, where meters
    #: report at all: a Beta over outages with this mean...
    last_gasp_delivery: Share = 0.8
    #: ...and this concentration (low: coverage and head-end losses vary). On a feeder whose
    #: meters are known to report (any meter message from it), meters that stay silent in an
    #: outage's area count against it, as silent callers do; a feeder whose meters never
    #: report is not held to them.
    last_gasp_concentration: Annotated[float, Field(gt=0.5, le=1000)] = 6.0
    #: How late last gasps arrive. A meter's silence counts against an outage only as far as
    #: its gasp would have reached us by now, as a caller's silence is thinned by the call
    #: delay: an outage a minute old is not yet contradicted by meters that have not spoken.
    last_gasp_lag: MeterLag = MeterLag()
    #: Probability of a false last gasp from a premise with power.
    last_gasp_false: Annotated[float, Field(gt=0, lt=0.1)] = 1.0e-5
    #: Of the outages at a transformer node, the share that are one premise's own service
    #: drop rather than the transformer: a lone report (or one meter's last gasp) is then
    #: explained whole, and the silence of the transformer's other premises does not undo it.
    service_share: Probability = 0.5
    #: A meter said "power restored" after the hypothesised outage began: near-certain
    #: against that device being open now (log-likelihood ratio, nats).
    power_restored_llr: Nats = -12.0
    #: A telemetered device (``scada`` in the topology; by default the feeder-head breakers
    #: and relays) opens only when SCADA says so: had it opened, SCADA would have told us, so
    #: no number of calls makes it the prediction.
    telemetered_opens_only_on_scada: bool = True
    #: Asset kinds that open by themselves on a fault. A manual or load-break ``switch`` (and
    #: a ``tie``) is open only when SCADA or an officer says so.
    candidates: tuple[AssetKind, ...] = (
        "transformer",
        "fuse",
        "sectionalizer",
        "recloser",
        "relay",
        "breaker",
    )
    #: The device already shown keeps its prediction unless the alternative is this much
    #: likelier (nats): tickets do not flap between two devices on successive reports.
    hysteresis: Annotated[float, Field(ge=0, le=10)] = 1.0
    #: How often (event time) silence is re-weighed as outages age.
    tick_minutes: Annotated[float, Field(gt=0, le=60)] = 2.0


def _priors(scale: dict[str, float] | None = None) -> dict[str, float]:
    # Per asset, not per kind. "transformer" also stands for a problem with one premise's own
    # service drop, which is what most lone no-power calls are. A fuse is as likely as that:
    # a single report predicts its transformer, reports from two transformers its fuse.
    base = {
        "transformer": 1.0e-3,
        "fuse": 1.0e-3,
        "sectionalizer": 1.0e-3,
        "recloser": 5.0e-4,
        "relay": 2.0e-4,
        "breaker": 2.0e-4,
        "switch": 1.0e-4,
        "tie": 1.0e-4,
    }
    return {kind: min(p * (scale or {}).get(kind, 1.0), 0.5) for kind, p in base.items()}


class PredictionRules(_Strict):
    """The parameters of one rule set (``normal``, or ``storm`` while a storm is declared)."""

    #: Prior probability that one asset of this kind is open at a given moment. Only
    #: ``inference.candidates`` use theirs; the others open only on a hard fact.
    prior_open: dict[AssetKind, Probability] = Field(default_factory=_priors)  # type: ignore[arg-type]
    #: A restored incident auto-closes this long after restoration (event time).
    close_after_minutes: Annotated[float, Field(gt=0)] = 120
    #: Interruptions shorter than this are momentary (IEEE 1366) and left out of SAIFI/SAIDI.
    momentary_minutes: Annotated[float, Field(ge=0)] = 5


#: How much likelier each asset is to be open while a storm is declared: wind and trees take
#: lines down (fuses, reclosers, sectionalisers) far more than they fail transformers.
STORM_SCALE: dict[str, float] = {
    "transformer": 3.0,
    "fuse": 10.0,
    "sectionalizer": 10.0,
    "recloser": 10.0,
    "relay": 5.0,
    "breaker": 5.0,
}


def _storm_prediction() -> PredictionRules:
    # Storm parameters, not looser thresholds: likelier faults mean fewer reports are needed
    # to believe one, and several outages at once cost less than one big one.
    return PredictionRules(prior_open=_priors(STORM_SCALE))  # type: ignore[arg-type]


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
    """Everything configurable about inference and storm detection."""

    inference: InferenceModel = InferenceModel()
    normal: PredictionRules = PredictionRules()
    storm: PredictionRules = Field(default_factory=_storm_prediction)
    storm_detection: StormDetection = StormDetection()
    restoration: RestorationRules = RestorationRules()


def load_rules(path: Path | None) -> Rules:
    """Read a rules YAML file (missing keys take defaults); None gives the defaults."""
    if path is None:
        return Rules()
    return load_model(path, Rules, "rules file")


def dump_default_rules() -> str:
    """The default rules as YAML (``outage rules defaults``, and the README)."""
    return yaml.safe_dump(Rules().model_dump(mode="json"), sort_keys=False, allow_unicode=True)
