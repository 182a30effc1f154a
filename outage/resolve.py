"""Resolution: which premise is this caller? By premise id, account, phone, address or GIS.

Never guesses: an unknown identity, a phone or address that matches several premises none of
which is in a known outage, or a point with no premise within the search radius is returned
as unresolved with the reason, and the engine keeps it as a ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grid.customers import CustomerIndex
from grid.errors import AssetNotFound
from grid.locate import Locator
from grid.topology import Topology
from outage.signals import CallSignal


@dataclass(frozen=True, slots=True)
class Resolution:
    """A premise number, or None with the reason."""

    premise: int | None
    reason: str | None = None


class Resolver:
    """Turns a call's identity into a premise number (see the module docstring)."""

    def __init__(
        self,
        topology: Topology,
        customers: CustomerIndex | None = None,
        locator: Locator | None = None,
        *,
        max_m: float = 150.0,
    ) -> None:
        self.topology = topology
        self.customers = customers
        self.locator = locator
        self.max_m = max_m

    def resolve(self, call: CallSignal, in_outage: Callable[[int], bool]) -> Resolution:
        """Resolve ``call``; ``in_outage(premise)`` breaks ties between several candidates."""
        return self.identify(
            in_outage,
            premise=call.premise,
            account=call.account,
            phone=call.phone,
            address=call.address,
            lon=call.lon,
            lat=call.lat,
        )

    def identify(
        self,
        prefer: Callable[[int], bool],
        *,
        premise: str | None = None,
        account: str | None = None,
        phone: str | None = None,
        address: str | None = None,
        lon: float | None = None,
        lat: float | None = None,
    ) -> Resolution:
        """The premise of whichever identity is given (the first of premise, lon+lat, account,
        phone, address); ``prefer(premise)`` breaks ties between several candidates."""
        index = self.topology.premise_index
        try:
            if premise is not None:
                number = index.get(premise)
                if number is None:
                    return Resolution(None, f"unknown premise {premise!r}")
                return Resolution(number)
            if lon is not None and lat is not None:
                if self.locator is None:
                    return Resolution(None, "no GIS index loaded for lon/lat calls")
                found = self.locator.nearest(lon, lat, kind="premise", max_m=self.max_m)
                return Resolution(index[found.id])
            if self.customers is None:
                return Resolution(None, "no customer table loaded for account/phone/address calls")
            if account is not None:
                return Resolution(index[self.customers.by_account(account)])
            if phone is not None:
                return self._pick(self.customers.by_phone(phone), "phone", prefer)
            if address is None:
                return Resolution(None, "no identity given")
            return self._pick(self.customers.by_address(address), "address", prefer)
        except AssetNotFound as exc:
            return Resolution(None, str(exc))
        except ValueError as exc:  # unparseable phone number, bad coordinates
            return Resolution(None, str(exc))

    def _pick(
        self, candidates: list[str], what: str, in_outage: Callable[[int], bool]
    ) -> Resolution:
        numbers = [
            self.topology.premise_index[c] for c in candidates if c in self.topology.premise_index
        ]
        if len(numbers) == 1:
            return Resolution(numbers[0])
        if not numbers:
            return Resolution(None, f"{what} matches no premise in this network")
        out = [n for n in numbers if in_outage(n)]
        if len(out) == 1:
            return Resolution(out[0])
        return Resolution(None, f"{what} matches {len(numbers)} premises; ask the caller which one")
