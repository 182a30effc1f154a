"""The drill review: review.json, a chart (PNG) and review.html for the duty officer.

The chart has two panels on one time axis: calls per 5 minutes against the agents and
positions each staffing evaluation asked for (and the standby called in), and a timeline
with one row per playbook — a bar from activation to stand-down, markers for proposals and
the engine's storm declarations.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import orjson
from jinja2 import Environment, select_autoescape

from playbooks.drill import DrillResult

CHART = "review-chart.png"


def review_json(result: DrillResult) -> dict[str, Any]:
    """The review as a JSON document: timeline, what fired when, messages, staffing."""
    fired: dict[str, list[dict[str, Any]]] = {pid: [] for pid in result.playbooks}
    for row in result.audit:
        if row.kind in ("proposed", "confirmed", "declined", "expired", "activated", "stood_down"):
            fired[row.playbook].append({"at": row.at.isoformat(), "kind": row.kind, "by": row.by})
    failures = [r.as_json() for r in result.audit if r.kind == "result" and not r.detail["ok"]]
    return {
        "period": {
            "start": result.start.isoformat() if result.start else None,
            "end": result.end.isoformat() if result.end else None,
        },
        "signals": result.signals,
        "events": result.events,
        "playbooks": result.playbooks,
        "fired": fired,
        "milestones": result.milestones,
        "messages": result.sent,
        "staffing": result.staffing,
        "calls_per_5min": result.calls_by_bucket,
        "failed_actions": failures,
        "audit": [r.as_json() for r in result.audit],
    }


def draw_chart(result: DrillResult, path: Path) -> Path:
    """Staffing curve vs calls, and the activation timeline (see the module docstring)."""
    fig, (calls_ax, time_ax) = plt.subplots(
        2, 1, figsize=(12, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    buckets = sorted((datetime.fromisoformat(k), v) for k, v in result.calls_by_bucket.items())
    if buckets:
        calls_ax.bar(
            [b for b, _ in buckets],
            [v for _, v in buckets],
            width=1 / 288,
            align="edge",
            color="#9ecae1",
            label="calls per 5 min",
        )
    calls_ax.set_ylabel("calls per 5 min")
    staff_ax = calls_ax.twinx()
    for key, style, label in (
        ("agents", "-", "agents needed (Erlang C)"),
        ("positions", "--", "positions after shrinkage"),
        ("called_in", ":", "standby called in"),
    ):
        rows = sorted(result.staffing, key=lambda r: r["at"])
        if rows:
            staff_ax.step(
                [datetime.fromisoformat(r["at"]) for r in rows],
                [r[key] for r in rows],
                style,
                where="post",
                label=label,
                color="#d62728",
            )
    staff_ax.set_ylabel("agents")
    handles = calls_ax.get_legend_handles_labels()
    more = staff_ax.get_legend_handles_labels()
    calls_ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper right", fontsize=8)
    calls_ax.set_title("Drill review: calls and staffing")
    _timeline(result, time_ax)
    time_ax.xaxis.set_major_formatter(
        mdates.DateFormatter("%H:%M", tz=result.start.tzinfo if result.start else None)
    )
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _timeline(result: DrillResult, ax: Any) -> None:
    rows = {pid: n for n, pid in enumerate(result.playbooks)}
    opened: dict[str, datetime] = {}
    for row in result.audit:
        y = rows[row.playbook]
        if row.kind == "activated":
            opened[row.playbook] = row.at
            ax.plot([row.at], [y], marker="o", color="#2ca02c")
        elif row.kind == "stood_down" and row.playbook in opened:
            start = opened.pop(row.playbook)
            ax.barh(y, mdates.date2num(row.at) - mdates.date2num(start), left=start, height=0.4,
                    color="#98df8a")  # fmt: skip
        elif row.kind == "proposed":
            ax.plot([row.at], [y], marker="v", color="#ff7f0e")
        elif row.kind in ("declined", "expired"):
            ax.plot([row.at], [y], marker="x", color="#7f7f7f")
    end = result.end
    for playbook, start in opened.items():  # still active when the drill ended
        if end is not None:
            ax.barh(rows[playbook], mdates.date2num(end) - mdates.date2num(start), left=start,
                    height=0.4, color="#98df8a", hatch="//")  # fmt: skip
    for milestone in result.milestones:
        if milestone["type"] == "StormDeclared" and milestone["scope"] == "system":
            ax.axvline(datetime.fromisoformat(milestone["at"]), color="#d62728", lw=1, ls="--")
        elif milestone["type"] == "StormStoodDown" and milestone["scope"] == "system":
            ax.axvline(datetime.fromisoformat(milestone["at"]), color="#1f77b4", lw=1, ls="--")
    ax.set_yticks(list(rows.values()), list(rows))
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_title("Playbooks: o activated, v proposed, bar = active; dashed: storm declared / over")


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drill review</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;vertical-align:top}
th{background:#eee}.fail{color:#b00}</style></head><body>
<h1>Drill review</h1>
<p>{{ r.period.start }} → {{ r.period.end }} · {{ r.signals }} signals · {{ r.events }} engine
events · playbooks: {{ r.playbooks | join(", ") }}</p>
<img src="{{ chart }}" alt="calls, staffing and playbook timeline" style="width:100%">
<h2>What fired when</h2>
<table><tr><th>playbook</th><th>at</th><th>what</th><th>by</th></tr>
{% for pid, rows in r.fired.items() %}{% for row in rows %}
<tr><td>{{ pid }}</td><td>{{ row.at }}</td><td>{{ row.kind }}</td><td>{{ row.by }}</td></tr>
{% else %}<tr><td>{{ pid }}</td><td colspan="3">did not fire</td></tr>{% endfor %}{% endfor %}
</table>
<h2>Engine milestones</h2>
<table><tr><th>at</th><th>event</th><th>detail</th></tr>
{% for m in r.milestones %}<tr><td>{{ m.at }}</td><td>{{ m.type }}</td>
<td>{{ m.scope or m.kind or m.rule_set }} {{ (m.reasons or []) | join("; ") }}</td></tr>
{% endfor %}</table>
<h2>Messages that would have gone out ({{ r.messages | length }})</h2>
<table><tr><th>channel</th><th>to</th><th>text</th></tr>
{% for m in messages %}<tr><td>{{ m.channel }}</td><td>{{ m.to }}</td>
<td>{% for line in m.lines %}{{ line }}<br>{% endfor %}</td></tr>{% endfor %}</table>
<h2>Staffing evaluations</h2>
<table><tr><th>at</th><th>playbook</th><th>forecast calls</th><th>observed</th><th>agents</th>
<th>positions</th><th>called in</th><th>gap</th></tr>
{% for s in r.staffing %}<tr><td>{{ s.at }}</td><td>{{ s.playbook }}</td>
<td>{{ s.forecast_calls }}</td><td>{{ s.observed_calls }}</td><td>{{ s.agents }}</td>
<td>{{ s.positions }}</td><td>{{ s.called_in }}</td><td>{{ s.gap }}</td></tr>{% endfor %}
</table>
{% if r.failed_actions %}<h2 class="fail">Failed actions</h2><ul>
{% for f in r.failed_actions %}<li class="fail">{{ f.at }} {{ f.playbook }}:
{{ f.detail.error }}</li>{% endfor %}</ul>{% endif %}
</body></html>
"""


def write_review(result: DrillResult, out: Path) -> dict[str, Path]:
    """Write review.json, the chart and review.html into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    document = review_json(result)
    paths = {"json": out / "review.json", "chart": out / CHART, "html": out / "review.html"}
    paths["json"].write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str))
    draw_chart(result, paths["chart"])
    env = Environment(autoescape=select_autoescape(default=True))
    messages = [_message_row(m) for m in result.sent]
    html = env.from_string(_HTML).render(r=document, chart=CHART, messages=messages)
    paths["html"].write_text(html, encoding="utf-8")
    return paths


def _message_row(sent: dict[str, Any]) -> dict[str, Any]:
    """One outbound message as (channel, to, lines of text) for the HTML table."""
    to = next((sent[k] for k in ("name", "roles", "target", "area", "url", "id") if k in sent), "")
    body = sent.get("message") or sent.get("text") or sent.get("body") or ""
    lines = list(body.values()) if isinstance(body, dict) else [str(body)]
    return {"channel": sent["channel"], "to": to, "lines": lines}
