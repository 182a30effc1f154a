"""Who lives where: customers of a set of premises, as arrays, critical care first.

Built once from the customers table (`grid.model.CUSTOMER_COLUMNS`) against a `Topology`, so
expanding a 100,000-customer outage is one vectorised mask over the customer rows rather than a
lookup per premise. Phones are normalised to E.164 with ``phonenumbers`` (via
`grid.customers.normalise_phones`); rows without a readable phone cannot be texted and are left
out here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from grid.customers import normalise_phones
from grid.model import CUSTOMER_PRIORITIES
from grid.topology import Topology

if TYPE_CHECKING:
    from notify.projection import IncidentView

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
PRIORITY_RANK = {name: rank for rank, name in enumerate(CUSTOMER_PRIORITIES)}


@dataclass(frozen=True, slots=True)
class Recipient:
    """One phone to text about one premise."""

    phone: str
    account: str
    premise: str
    language: str
    priority: int  # 0 critical care, 1 vip, 2 normal


class Audience:
    """Customer rows indexed by premise number (see the module docstring)."""

    def __init__(
        self, topology: Topology, customers: pd.DataFrame, *, region: str = "CN"
    ) -> None:
        self.topology = topology
        frame = customers.reset_index(drop=True)
        phones = normalise_phones(frame["phone"].tolist(), region) if len(frame) else []
        keep = np.array([p is not None for p in phones], dtype=bool)
        premise_number = frame["premise"].map(topology.premise_index)
        keep &= premise_number.notna().to_numpy()
        rows = np.nonzero(keep)[0]
        # ``keep`` held only readable phones, so the filter drops nothing: it tells mypy so
        self.phone = [p for p in (phones[r] for r in rows) if p is not None]
        self.account = frame["account"].astype(str).to_numpy()[rows].tolist()
        self.premise_number = premise_number.to_numpy()[rows].astype(np.int64)
        self.language = [
            lang if lang in ("zh-CN", "en") else "zh-CN"
            for lang in frame["language"].fillna("zh-CN").astype(str).to_numpy()[rows]
        ]
        opt_in = frame["sms_opt_in"].map(_flag).to_numpy()[rows]
        self.opted_in: BoolArray = np.asarray(opt_in, dtype=np.bool_)
        self.priority = np.array(
            [PRIORITY_RANK.get(p, 2) for p in frame["priority"].fillna("normal").to_numpy()[rows]],
            dtype=np.int8,
        )
        self.row_of_phone = {phone: i for i, phone in reversed(list(enumerate(self.phone)))}

    def __len__(self) -> int:
        return len(self.phone)

    def rows_of_premises(self, premises: IntArray) -> IntArray:
        """Customer rows at ``premises`` (premise numbers), critical care first then vip."""
        if len(premises) == 0:
            return np.empty(0, dtype=np.int64)
        mask = np.zeros(len(self.topology.premise_ids), dtype=bool)
        mask[premises] = True
        rows = np.nonzero(mask[self.premise_number])[0]
        return rows[np.argsort(self.priority[rows], kind="stable")]

    def recipient(self, row: int) -> Recipient:
        """The recipient of customer row ``row``."""
        return Recipient(
            self.phone[row],
            self.account[row],
            self.topology.premise_ids[self.premise_number[row]],
            self.language[row],
            int(self.priority[row]),
        )

    def premises_of_asset(self, asset: str) -> IntArray:
        """Premise numbers fed through a transformer or protective device id (none if unknown)."""
        topo = self.topology
        if asset in topo.transformer_index:
            return topo.premises_of_transformer(topo.transformer_index[asset]).astype(np.int64)
        if asset in topo.device_index:
            return topo.premises_below(topo.device_index[asset]).astype(np.int64)
        return np.empty(0, dtype=np.int64)

    def premises_of(self, view: IncidentView) -> IntArray:
        """Premise numbers an incident takes out: its one premise for a service drop, else
        every premise below its asset."""
        if view.premise is not None:
            number = self.topology.premise_index.get(view.premise)
            return np.asarray([] if number is None else [number], dtype=np.int64)
        return self.premises_of_asset(view.asset)

    def device_of_asset(self, asset: str) -> int | None:
        """The protective device an asset hangs below (itself for a device)."""
        topo = self.topology
        if asset in topo.device_index:
            return topo.device_index[asset]
        if asset in topo.transformer_index:
            return topo.transformer_device[topo.transformer_index[asset]]
        return None


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value) if value is not None and value == value else False
