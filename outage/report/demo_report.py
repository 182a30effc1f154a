"""The demo's short report: charts (PNG) and one HTML page that shows them with the figures."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from jinja2 import Environment, select_autoescape
from numpy.typing import ArrayLike

from scenarios.player import PlayReport

BUCKET = timedelta(minutes=10)
UTC_ZONE = ZoneInfo("UTC")


def storm_chart(
    report: PlayReport,
    call_minutes: Counter[int],
    baseline_per_hour: list[float],
    target: Path,
    *,
    zone: ZoneInfo = UTC_ZONE,
) -> Path:
    """Customers out and open incidents over the storm; calls per 10 min against baseline
    (the baseline is by local hour, times are shown in ``zone``)."""
    times = [s.at for s in report.samples]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), dpi=110, sharex=True)
    top.fill_between(times, [s.customers_out for s in report.samples], color="#d62728", alpha=0.3)
    top.plot(times, [s.customers_out for s in report.samples], color="#d62728", lw=1.5)
    top.set_ylabel("customers out")
    twin = top.twinx()
    twin.plot(times, [s.open_incidents for s in report.samples], color="#1f77b4", lw=1)
    twin.set_ylabel("open incidents", color="#1f77b4")
    top.set_title("The storm: customers out (red) and open incidents (blue)")
    if times:
        start, end = times[0], times[-1]
        edges, calls, base = [], [], []
        at = start
        while at <= end:
            first = int(at.timestamp()) // 60
            edges.append(at)
            calls.append(sum(call_minutes.get(m, 0) for m in range(first, first + 10)))
            hour = at.astimezone(zone).hour  # the baseline is by local hour
            base.append(baseline_per_hour[hour] * BUCKET.total_seconds() / 3600)
            at += BUCKET
        bottom.bar(edges, calls, width=BUCKET * 0.9, align="edge", color="#ff7f0e", label="calls")
        bottom.step(edges, base, where="post", color="#333", ls="--", label="normal for the hour")
        bottom.legend(loc="upper right")
    bottom.set_ylabel("calls per 10 min")
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=zone))
    bottom.set_xlabel(f"event time ({zone.key}, 24-hour)")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target


def staffing_chart(
    staffing: list[dict[str, Any]], target: Path, *, zone: ZoneInfo = UTC_ZONE
) -> Path | None:
    """Positions needed (Erlang C) against agents on shift plus called in, at each evaluation."""
    if not staffing:
        return None
    # matplotlib's stubs take numbers for x, but its unit machinery plots datetimes (and
    # gives the axis date ticks): the list goes in as it is
    times = cast("ArrayLike", [datetime.fromisoformat(s["at"]) for s in staffing])
    fig, ax = plt.subplots(figsize=(11, 4), dpi=110)
    ax.step(
        times,
        [s["positions"] for s in staffing],
        where="post",
        color="#d62728",
        label="positions needed (Erlang C, after shrinkage)",
    )
    ax.step(
        times,
        [s["agents"] for s in staffing],
        where="post",
        color="#ff7f0e",
        ls=":",
        label="agents needed (before shrinkage)",
    )
    ax.step(
        times,
        [s["on_shift"] + s["called_in"] for s in staffing],
        where="post",
        color="#2ca02c",
        label="on shift + called in",
    )
    twin = ax.twinx()
    twin.plot(
        times,
        [s["forecast_calls"] for s in staffing],
        color="#1f77b4",
        alpha=0.5,
        marker="o",
        ms=3,
        label="forecast calls per interval",
    )
    twin.set_ylabel("forecast calls", color="#1f77b4")
    ax.set_ylabel("agents")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Staffing: what the hotline needs against who is there")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=zone))
    ax.set_xlabel(f"event time ({zone.key})")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target


def sms_chart(by_kind: dict[str, int], target: Path) -> Path | None:
    """SMS decided, by message kind."""
    if not by_kind:
        return None
    kinds = sorted(by_kind, key=by_kind.__getitem__)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(kinds) + 1.2), dpi=110)
    ax.barh(kinds, [by_kind[k] for k in kinds], color="#9467bd")
    for y, kind in enumerate(kinds):
        ax.text(by_kind[kind], y, f" {by_kind[kind]:,}", va="center", fontsize=8)
    ax.set_title("SMS decided, by kind")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Storm demo report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:.2em} table{border-collapse:collapse;margin:1em 0}
td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums} img{max-width:100%;margin:.5em 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em} .gap{font-size:16px;padding:.6em .9em;
background:#fdf0ef;border-left:4px solid #d62728} .hazard{color:#b00020;font-weight:600}
</style></head><body>
<h1>Storm demo report</h1>
<p>{{ subtitle }}</p>
<div class="grid">
<table>{% for name, value in figures %}
<tr><th>{{ name }}</th><td class="n">{{ value }}</td></tr>{% endfor %}</table>
<div><img src="{{ outage_map }}" alt="the storm at its peak"></div>
</div>
<h2>Staffing</h2>
<p class="gap">{{ staffing_words }}</p>
{% if staffing_chart %}<img src="{{ staffing_chart }}" alt="staffing curve">{% endif %}
<h2>The storm over time</h2>
<img src="{{ storm_chart }}" alt="customers out and calls over the storm">
<h2>Hazards ({{ hazards|length }})</h2>
<table><tr><th>ticket</th><th>kind</th><th>where</th><th>reported</th><th>outage</th>
<th>its status at the end</th></tr>
{% for t in hazards %}<tr><td>{{ t.ticket }}</td>
<td class="hazard">{{ t.kind.replace("_", " ") }}</td>
<td>{{ t.where }}</td><td>{{ t.at_local }}</td><td>{{ t.incident or "none linked" }}</td>
<td>{{ t.status.status if t.status else "" }}</td></tr>{% endfor %}</table>
<h2>ETRs given by the duty officer ({{ etrs|length }})</h2>
<table><tr><th>incident</th><th>given at</th><th>ETR</th><th>restored</th><th></th></tr>
{% for e in etrs %}<tr><td>{{ e.incident }}</td><td>{{ e.given }}</td><td>{{ e.etr }}</td>
<td>{{ e.restored }}</td><td>{{ e.kept }}</td></tr>{% endfor %}</table>
<h2>Largest outages</h2>
<table><tr><th>incident</th><th>device</th><th>status</th><th>customers</th><th>calls</th><th>suppressed</th><th>ETR</th></tr>
{% for i in largest %}<tr><td>{{ i.id }}</td><td>{{ i.device }}</td><td>{{ i.status }}</td>
<td class="n">{{ "{:,}".format(i.customers_affected) }}</td><td class="n">{{ i.calls|length }}</td>
<td class="n">{{ i.suppressed }}</td><td>{{ i.etr_local if i.etr else "" }}</td></tr>
{% endfor %}</table>
<h2>Playbooks</h2>
<table><tr><th>playbook</th><th>fired</th><th>by</th></tr>
{% for p in playbooks %}
<tr><td>{{ p.playbook }}</td><td>{{ p.at_local }}</td><td>{{ p.by }}</td></tr>{% endfor %}</table>
<table><tr><th>playbook</th><th>stood down by itself</th></tr>
{% for p in stood_down %}<tr><td>{{ p.playbook }}</td><td>{{ p.at_local }}</td></tr>
{% endfor %}</table>
{% if sms_chart %}<h2>SMS</h2><img src="{{ sms_chart }}" alt="SMS by kind">{% endif %}
<h2>The demo city</h2>
<img src="{{ topology_map }}" alt="the demo city's network">
</body></html>
"""


def write_html(target: Path, **context: Any) -> Path:
    """Render the report page (image paths relative to ``target``)."""
    env = Environment(autoescape=select_autoescape(default=True))
    target.write_text(env.from_string(PAGE).render(**context), encoding="utf-8")
    return target
