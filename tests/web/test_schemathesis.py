"""Property-based fuzzing of every operation in ``/openapi.json`` with schemathesis: no input makes a server error.

Runs in-process against the ASGI app (a real store loaded with a real archive day), with a bounded number of
examples per operation so the whole file takes well under a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from paperboy.app import Paperboy
from paperboy.store import accounts
from paperboy.web.app import create_app
from tests.web.conftest import load_days


@pytest.fixture
def api_token(paperboy: Paperboy) -> str:
    user = accounts.get_or_create_user(paperboy.store, "fuzz@example.org", datetime.now(UTC))
    return accounts.create_api_token(paperboy.store, user.id, "fuzz", datetime.now(UTC))


@pytest.fixture
def api_schema(paperboy: Paperboy, shared_data: Path, api_token: str) -> schemathesis.BaseSchema:
    load_days(paperboy.store, shared_data, "2026-08-21")
    paperboy.settings = paperboy.settings.replace(
        rate_votes_per_minute=100_000,
        rate_comments_per_hour=100_000,
        rate_submissions_per_day=100_000,
        arxiv_api_url="http://127.0.0.1:9/api/query",  # a closed port: submissions of unknown ids fail fast
        request_retries=0,
        embed_in_background=False,
    )
    app = create_app(paperboy)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_a_server_error(case: schemathesis.Case, api_token: str) -> None:
    headers = {"Authorization": f"Bearer {api_token}"} if case.method != "GET" else None
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error])


def test_the_schema_documents_every_api_route(paperboy: Paperboy) -> None:
    from fastapi.testclient import TestClient

    from paperboy.web.app import ROUTES

    paths = TestClient(create_app(paperboy)).get("/openapi.json").json()["paths"]
    for route in ROUTES:
        if not route.page:
            path = route.path.replace(":path", "").replace(":int", "")
            assert path in paths and all(m.lower() in paths[path] for m in route.methods), route.path
