"""Schemathesis against the served OpenAPI document of the API (real uvicorn, real HTTP): every
operation, positive and negative generated requests, no 5xx and every response conforming to its
documented status, content type and schema.

The index is the one tests/test_api.py builds (the seeded workload with settlement), in the running
PostgreSQL, which is stricter than SQLite about what it stores and compares. The server's own
request counters prove how many requests were made (at least 1,000) and that none answered 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from test_api import Served, World, built_world, database, index

from carbonix.config import Settings
from carbonix.deployments import Deployment
from indexer.api import create_app
from indexer.api.settings import ApiSettings

EXAMPLES = 40  # per operation (31 operations), plus schemathesis' explicit and coverage cases


@pytest.fixture(scope="module")
def world(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with built_world(deployment, chains, tmp_path_factory.mktemp("tgo-api-schema")) as built:
        yield built


@pytest.fixture(scope="module")
def served(world: World, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Served]:
    with database("postgresql", tmp_path_factory.mktemp("api-schema"), request) as url:
        index(url, world.deployment)
        # one client (this test) makes every request: the rate limit is tested in test_api.py
        app = create_app(url, settings=ApiSettings(rate_limit_per_minute=0), chain_settings=world.chains)
        with Served(app) as server:
            yield server


@pytest.fixture
def api_schema(served: Served) -> Any:
    return schemathesis.openapi.from_url(f"{served.url}/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


def _checksum_only(body: Any) -> bool:
    """A 422 whose every error is an address with a wrong EIP-55 checksum: the one refusal of input
    that matches its schema (a pattern cannot say which mixed case is the checksum)."""
    errors = body.get("detail") if isinstance(body, dict) else None
    return bool(errors) and all("EIP-55 checksum" in str(e.get("msg", "")) for e in errors)


def positive_data_accepted_unless_bad_checksum(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code == 422 and _checksum_only(response.json()):
        return None
    return positive_data_acceptance(ctx, response, case)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case: Any, served: Served) -> None:
    case.call_and_validate(
        base_url=served.url,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[positive_data_accepted_unless_bad_checksum],
    )


def test_at_least_1000_requests_and_no_server_error(served: Served) -> None:
    """Runs after the generated tests: the server counted what it answered, by route and status."""
    text = served.client.get("/v1/metrics").text
    counts = re.findall(
        r'^carbonix_api_requests_total\{method="(\w+)",route="([^"]*)",status="(\d+)"\} (\S+)$', text, re.M
    )
    total = sum(float(n) for *_, n in counts)
    routes = {route for _, route, _, _ in counts}
    by_status: dict[str, int] = {}
    for _, _, status, n in counts:
        by_status[status] = by_status.get(status, 0) + int(float(n))
    print(f"schemathesis: {int(total)} requests over {len(routes)} routes, by status {sorted(by_status.items())}")
    assert by_status.get("200", 0) >= 300  # not only refusals: a good share was answered
    assert total >= 1_000, total
    assert not [c for c in counts if c[2].startswith("5")], [c for c in counts if c[2].startswith("5")]
    documented = {p.replace("{serial_prefix}", "{serial_prefix:path}") for p in served.app.openapi()["paths"]}
    assert documented <= routes | {"/v1/metrics"}, documented - routes


def test_optional_filters_are_given_or_absent_never_null() -> None:
    spec = create_app("sqlite://", chain_settings=None).openapi()
    trades = {p["name"]: p for p in spec["paths"]["/v1/trades"]["get"]["parameters"]}
    assert trades["participant"]["schema"]["pattern"] == "^0x[0-9a-fA-F]{40}$"
    assert "anyOf" not in trades["participant"]["schema"]  # given or absent, never null
    assert spec["components"]["schemas"]["Money"]["additionalProperties"] is False
