"""CAP 1.2 alerts (OASIS Common Alerting Protocol) per outage above a size threshold.

`track` decides, as events arrive, whether an incident's public alert changes: an ``Alert``
when an open outage first reaches ``cap_min_customers`` customers, an ``Update`` when its ETR,
size, device or status changes, and a ``Cancel`` when it is restored, cancelled or merged away.
Each message issued is kept in the incident's projection (identifier and time), so Update and
Cancel can reference the earlier ones, and a restart re-renders the same XML. `render` writes
the message (zh-CN and en ``info`` blocks, the outage area as a polygon); `validate` checks it
against the OASIS schema shipped beside this module.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import xmlschema
from shapely.geometry import Polygon

from notify.config import FeedConfig
from notify.projection import IncidentView

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA = Path(__file__).with_name("CAP-v1.2.xsd")
_CLOSED = frozenset({"restored", "cancelled", "merged"})
_TEXT = {
    "zh-CN": {
        "event": "停电",
        "headline": "停电：约{customers}户受影响",
        "over": "供电已恢复或停电信息已取消（单号{incident}）。",
        "description": "单号{incident}，原因：{cause}。{etr}",
        "etr": "预计恢复时间{etr}。",
        "instruction": "请远离倒杆断线；如需报修请拨打95598。",
    },
    "en": {
        "event": "Power outage",
        "headline": "Power outage: about {customers} customers affected",
        "over": "Power restored or outage notice withdrawn (ref {incident}).",
        "description": "Ref {incident}, cause: {cause}. {etr}",
        "etr": "Estimated restoration {etr}.",
        "instruction": "Stay away from fallen wires; call 95598 to report.",
    },
}


def _stamp(at: datetime) -> str:
    """CAP time: seconds and an explicit offset (the schema refuses ``Z`` and fractions)."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat()


def _fingerprint(view: IncidentView) -> str:
    return f"{view.status}|{view.customers}|{view.asset}|{view.etr}"


def track(view: IncidentView, at: datetime, config: FeedConfig) -> dict[str, str] | None:
    """Append the CAP message ``view``'s change calls for (if any) and return it."""
    last = view.cap[-1] if view.cap else None
    if last is not None and last["msgType"] == "Cancel":
        return None
    if view.status in _CLOSED:
        msg_type = "Cancel" if last is not None else None
    elif not view.is_open or view.customers < config.cap_min_customers:
        msg_type = None
    elif last is None:
        msg_type = "Alert"
    else:
        msg_type = "Update" if last["fingerprint"] != _fingerprint(view) else None
    if msg_type is None:
        return None
    entry = {
        "identifier": f"{view.id}-{len(view.cap) + 1}",
        "sent": _stamp(at),
        "msgType": msg_type,
        "fingerprint": _fingerprint(view),
    }
    view.cap.append(entry)
    return entry


def render(
    view: IncidentView, entry: dict[str, str], area: Polygon | None, config: FeedConfig
) -> str:
    """One CAP 1.2 ``alert`` document for ``entry`` of ``view``."""
    ET.register_namespace("", CAP_NS)

    def add(parent: ET.Element, tag: str, text: Any) -> ET.Element:
        child = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
        child.text = str(text)
        return child

    alert = ET.Element(f"{{{CAP_NS}}}alert")
    add(alert, "identifier", entry["identifier"])
    add(alert, "sender", config.cap_sender)
    add(alert, "sent", entry["sent"])
    add(alert, "status", "Actual")
    add(alert, "msgType", entry["msgType"])
    add(alert, "scope", "Public")
    earlier = view.cap[: view.cap.index(entry)]
    if earlier and entry["msgType"] != "Alert":
        refs = " ".join(f"{config.cap_sender},{e['identifier']},{e['sent']}" for e in earlier)
        add(alert, "references", refs)
    add(alert, "incidents", view.id)
    over = entry["msgType"] == "Cancel"
    for language, text in _TEXT.items():
        info = ET.SubElement(alert, f"{{{CAP_NS}}}info")
        add(info, "language", language)
        add(info, "category", "Infra")
        add(info, "event", text["event"])
        add(info, "responseType", "AllClear" if over else "Monitor")
        add(info, "urgency", "Past" if over else "Immediate")
        add(info, "severity", "Minor" if over else "Moderate")
        add(info, "certainty", "Observed")
        add(info, "senderName", config.cap_sender_name)
        add(info, "headline", text["headline"].format(customers=view.customers))
        etr = text["etr"].format(etr=view.etr) if view.etr else ""
        description = text["over"] if over else text["description"]
        add(info, "description", description.format(incident=view.id, cause=view.cause, etr=etr))
        add(info, "instruction", text["instruction"])
        parameter = ET.SubElement(info, f"{{{CAP_NS}}}parameter")
        add(parameter, "valueName", "customersAffected")
        add(parameter, "value", view.customers)
        if area is not None:
            block = ET.SubElement(info, f"{{{CAP_NS}}}area")
            add(block, "areaDesc", f"{view.feeder or view.substation or view.asset}")
            ring = list(area.exterior.coords)
            add(block, "polygon", " ".join(f"{lat:.5f},{lon:.5f}" for lon, lat in ring))
    return ET.tostring(alert, encoding="unicode", xml_declaration=True)


@cache
def _schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def validate(document: str) -> None:
    """Raise `xmlschema.XMLSchemaValidationError` unless ``document`` is valid CAP 1.2."""
    _schema().validate(document)
