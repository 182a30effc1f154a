"""Property-based fuzzing of the whole OpenAPI schema: no input may cause a 5xx.

The app is the fully composed service — engine with its SQLite journal, notify and the
playbooks wired and running — so the SMS, playbook and public-feed operations are fuzzed too,
and every ``date-time`` the schema names (signal times, planned work, ETRs, inbound SMS) is
drawn from ordinary times *and* the edges that once broke the service: year 1 and year 9999
in every time zone, where converting to UTC or adding an hour leaves what a datetime holds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from grid.synthetic import CitySpec, generate_city
from outage.api.app import create_app
from outage.api.compose import compose
from outage.api.settings import ServiceSettings
from outage.bootstrap import Network

from .conftest import auth, ring

#: Times that overflowed, or sat at the edge of the range a signal may carry.
EDGE_TIMES = (
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:00:00Z",
    "2199-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "9999-12-31T16:00:00Z",
    "9999-12-31T23:00:00-14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59Z",
)
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.sampled_from(EDGE_TIMES),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    ),
)

_state = Path(tempfile.mkdtemp(prefix="schemathesis-"))
_network = Network.from_tables(generate_city(CitySpec(customers=400, seed=5)))
_services = compose(_network, state_dir=_state, clock="event")
_services.start(sender=False)
_app = create_app(_services.runtime, ServiceSettings(max_batch=50), ring(), _services)
# The SSE stream never ends by design; it is exercised end to end elsewhere.
schema = schemathesis.openapi.from_asgi("/openapi.json", _app).exclude(path="/v1/events")


@pytest.fixture(autouse=True, scope="module")
def _composed() -> Iterator[None]:
    yield
    _services.stop()
    shutil.rmtree(_state, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_causes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=auth("admin"), checks=[not_a_server_error])


def test_the_composed_schema_is_fuzzed() -> None:
    """The notify and playbook operations are part of what is fuzzed."""
    paths = set(_app.openapi()["paths"])
    assert {"/v1/sms/inbound", "/v1/playbooks", "/v1/quarantine", "/v1/signals"} <= paths
