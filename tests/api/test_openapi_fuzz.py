"""Schemathesis against /api/openapi.json: a bounded, deterministic run with no server errors.

Schemathesis's pytest plugin does not run under pytest 9, so the operations are
driven here with Hypothesis directly; the figures go to the test's output.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import Persona

EXAMPLES_PER_OPERATION = 8
# Schema-valid bodies can still break cross-field rules the document cannot state
# (scheduled_until with scheduled_for), so "positive data accepted" is not checked.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _run(operation: Any, alice: Persona, failures: list[str]) -> int:
    calls = 0

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        nonlocal calls
        if case.path_parameters and "page_id" in case.path_parameters:
            # Aim at a page the key owns, so requests reach the handlers rather than a 404.
            case.path_parameters["page_id"] = alice.page.id
        calls += 1
        try:
            case.call_and_validate(headers=alice.headers, checks=CHECKS)
        except Exception as exc:  # every kind of failure is collected and reported together
            failures.append(f"{operation.label}: {str(exc).splitlines()[0][:300]}")
            raise

    try:
        check()
    except Exception:  # already recorded; Hypothesis re-raises the shrunk failure
        return calls
    return calls


def test_the_api_matches_its_document_and_never_fails(client: TestClient, alice: Persona) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", client.app)
    failures: list[str] = []
    operations = 0
    examples = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        examples += _run(operation, alice, failures)
    print(f"schemathesis: {operations} operations, {examples} examples, {len(failures)} failures")
    assert operations > 20
    assert failures == []
