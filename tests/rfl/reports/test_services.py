"""run_report called directly: the same refusals as over HTTP, for callers that bypass the route."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask

from rfl.accounts.models import Role
from rfl.accounts.services import actor_of
from rfl.audit.entries import AuditEntry, Outcome
from rfl.db import db
from rfl.errors import PermissionDenied, ValidationFailed
from rfl.reports.periods import Granularity, Window
from rfl.reports.services import ReportName, ReportQuery, run_report
from tests.conftest import Factories

WINDOW = Window(date(2026, 1, 1), date(2026, 6, 30), Granularity.MONTH)


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.TRACING_OFFICER])
def test_a_role_that_may_not_report_is_refused_and_audited(app: Flask, make: Factories, role: Role) -> None:
    actor = actor_of(make.user(role))
    entries: list[AuditEntry] = []

    with app.app_context(), db.transaction() as session, pytest.raises(PermissionDenied):
        run_report(
            session,
            actor,
            ReportQuery(ReportName.MATCHING, None, WINDOW, "json"),
            threshold=5,
            audit=entries.append,
        )

    assert [(e.action.value, e.outcome, e.object_id) for e in entries] == [
        ("report.run", Outcome.DENIED, "matching")
    ]


def test_a_bad_window_is_refused_before_anything_is_counted(app: Flask, make: Factories) -> None:
    actor = actor_of(make.user(Role.ADMIN))
    backwards = Window(date(2026, 6, 30), date(2026, 1, 1), Granularity.MONTH)
    entries: list[AuditEntry] = []

    with app.app_context(), db.transaction() as session, pytest.raises(ValidationFailed) as refused:
        run_report(
            session,
            actor,
            ReportQuery(ReportName.FLOWS, None, backwards, "json"),
            threshold=5,
            audit=entries.append,
        )

    assert refused.value.errors == {"from": ["Must not be after `to`."]}
    assert entries == []
