"""Schemathesis against the live WSGI app, as each role: no server error, every answer documented and as documented.

The demo clinic is loaded once for the module, so generated ids (small integers first) reach real records. Each
generated request runs in a savepoint that is rolled back, so cases are independent and can be replayed.

`make test` runs a few examples per operation and role; the full run for the figure (issue 12):

    KAPCLINIC_FUZZ_EXAMPLES=40 KAPCLINIC_DEBUG=true .venv/bin/pytest -q -s tests/test_api_fuzz.py
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kapclinic.accounts.models import User
from kapclinic.accounts.services import api_token_issue
from kapclinic.wsgi import application

EXAMPLES = int(os.environ.get("KAPCLINIC_FUZZ_EXAMPLES", "3"))
# The quick run is the same every time; the full run explores (its seed is printed with any failure).
QUICK = EXAMPLES <= 5

# Body fields that name a record: half the cases name one of the first records, so they reach the clinic's data.
ID_FIELDS = {
    "patient",
    "inquiry",
    "with_user",
    "lot",
    "location",
    "to_location",
    "product",
    "corrects",
    "session",
    "nurse",
    "therapist",
    "cosigner",
    "dosing_session",
    "user",
    "note",
    "version_id",
}

# One login per role (the demo's users), and no login at all.
ROLES = ("anonymous", "coordinator", "prescriber", "nurse", "therapist", "director", "auditor", "patient")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def clinic(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, str]]:
    """The demo clinic and a bearer token per role, for the whole module; rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("demo_load", "--quiet")
        tokens = {}
        for role in ROLES[1:]:
            _, raw = api_token_issue(user=User.objects.get(username=role))
            tokens[role] = raw
        # Check the clinic's deferred foreign keys now, once: left pending, PostgreSQL checked them all again in
        # every case's own check (SET CONSTRAINTS inside a savepoint that is rolled back leaves them pending), some
        # 40 ms a case.
        connection.check_constraints()
        yield tokens
        transaction.set_rollback(True)


@contextlib.contextmanager
def _requests_keep_the_connection() -> Iterator[None]:
    # Django's own test client does the same: a request must not close the test's connection mid-transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def wsgi_in_test_transaction() -> Iterator[None]:
    with _requests_keep_the_connection():
        yield


@pytest.fixture(scope="module")
def api_schema(clinic: dict[str, str], django_db_blocker: Any) -> Any:
    """The OpenAPI document as schemathesis reads it from the app, once for the module (a second each time)."""
    with django_db_blocker.unblock(), _requests_keep_the_connection():
        # Revoking the token the run signs in with would only turn the rest into 401s.
        return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application).exclude(
            method="DELETE", path="/api/v1/auth/token"
        )


@pytest.fixture(scope="module")
def operation_strategies(api_schema: Any) -> list[tuple[Any, Any]]:
    """Each operation with its strategy (documented and malformed requests), built once for all the roles: the
    strategies keep what they resolve of the schema, and building them again per role was most of the run."""
    found = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation schemathesis cannot read is a documentation fault
        operation = result.ok()
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )
        found.append((operation, strategy))
    return found


def _name_known_records(case: Any, known: int) -> None:
    """Point the case's ids at one of the first records (the demo clinic's), where it keeps valid types."""
    if case.path_parameters:
        case.path_parameters = {
            name: known if isinstance(value, int) else value for name, value in case.path_parameters.items()
        }
    if isinstance(case.body, dict):
        for name, value in case.body.items():
            if name in ID_FIELDS and isinstance(value, int) and not isinstance(value, bool):
                case.body[name] = known


def _summary(exc: BaseException) -> str:
    """The failure's title lines and the curl command that reproduces it."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return "\n    ".join(lines[:14])


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(
    role: str,
    clinic: dict[str, str],
    operation_strategies: list[tuple[Any, Any]],
    db: None,
    wsgi_in_test_transaction: None,
) -> None:
    headers = {"Authorization": f"Bearer {clinic[role]}"} if role in clinic else {}
    cases: Counter[int] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    for operation, strategy in operation_strategies:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=QUICK,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate] if QUICK else [Phase.explicit, Phase.generate, Phase.shrink],
        )
        @given(case=strategy, known=st.none() | st.integers(min_value=1, max_value=40))
        def run(case: Any, known: int | None) -> None:
            if known is not None:
                _name_known_records(case, known)
            with transaction.atomic():
                response = case.call(headers=headers)
                cases[response.status_code] += 1
                # What the request wrote must hold at commit (e.g. an audit row naming a patient that does
                # not exist): the test's transaction never commits, so check now, as the commit would.
                connection.check_constraints()
                transaction.set_rollback(True)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, report them together
            failures.append(f"{operation.label} as {role}: {_summary(exc)}")
    total = sum(cases.values())
    print(f"\n{role}: {total} cases in {time.monotonic() - started:.0f} s, status codes {dict(sorted(cases.items()))}")
    assert not failures, "\n\n".join(failures)
