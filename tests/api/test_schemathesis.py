"""Property-based fuzzing of the whole OpenAPI schema: no input may cause a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from grid.synthetic import CitySpec, generate_city
from outage.api.app import create_app
from outage.api.runtime import Runtime
from outage.api.settings import ServiceSettings
from outage.bootstrap import Network

from .conftest import auth, ring

_network = Network.from_tables(generate_city(CitySpec(customers=400, seed=5)))
_app = create_app(Runtime(_network, None), ServiceSettings(max_batch=50), ring())
# The SSE stream never ends by design; it is exercised end to end elsewhere.
schema = schemathesis.openapi.from_asgi("/openapi.json", _app).exclude(path="/v1/events")


@pytest.fixture(autouse=True)
def _one_app() -> Iterator[None]:
    yield


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_causes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=auth("admin"), checks=[not_a_server_error])
