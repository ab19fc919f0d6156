"""Routes of the monitoring and evaluation reports."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response

from rfl.audit.recorder import record as audit
from rfl.clock import now
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.blueprint import Blueprint
from rfl.identity import Role
from rfl.reports import charts, formats
from rfl.reports.periods import Window
from rfl.reports.schemas import ReportQuerySchema, ReportSchema
from rfl.reports.services import Report, ReportName, ReportQuery, run_report

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Monitoring and evaluation reports")

# The answer in each format (format=json, csv, png).
FORMATS = {
    "200": {
        "content": {
            "application/json": {"schema": ReportSchema},
            "text/csv": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        }
    }
}
# Unknown report names are not routes (404); the OpenAPI lists the names as the path's enum.
NAMES = ", ".join(f'"{name.value}"' for name in ReportName)


@blp.route(f"/reports/<any({NAMES}):name>", methods=["GET"])
@require_roles(Role.ADMIN, Role.AUDITOR)
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, ReportSchema)
@blp.doc(responses=FORMATS)
def report(query: dict[str, Any], name: str) -> Response | dict[str, Any]:
    """A monitoring and evaluation report.

    For admins and auditors: of their own society, or, for those of the Central Tracing Agency, of any
    society or (without `society`) of every society together. `tracing-activity`: requests opened and
    closed by outcome, sightings by condition and those of possible minors, and the days from request to
    first proposal, confirmation and disclosure (median, 90th percentile). `matching`: candidates by
    status and the share confirmed. `consent-disclosure`: consents by decision and method, disclosures
    by outcome and by reason. `flows`: confirmed matches by requesting and sighting society.

    Counted from statuses, codes and dates only, never from personal data. Counts below the threshold
    (setting `RFL_REPORT_THRESHOLD`, default 5) are withheld, and so is whatever would give them back
    from totals: a withheld figure is `null` with `suppressed: true`. Durations are shown only for groups
    of at least the threshold. Every run is audited with its parameters.
    """
    services = app_services()
    end = query["to"] or now().date()
    window = Window(query["from_"] or _a_year_before(end), end, query["granularity"])
    result = run_report(
        db.session,
        current_actor(),
        ReportQuery(ReportName(name), query["society"], window, query["format"]),
        threshold=services.settings.report_threshold,
        audit=audit,
    )
    if query["format"] == "csv":
        return Response(formats.as_csv(result), mimetype="text/csv", headers=_attachment(result, "csv"))
    if query["format"] == "png":
        return Response(charts.render_png(result), mimetype="image/png")
    return formats.as_document(result)


def _a_year_before(end: date) -> date:
    """The first day of the month 11 months before ``end``'s: twelve monthly periods."""
    index = end.year * 12 + end.month - 1 - 11
    return date(index // 12, index % 12 + 1, 1)


def _attachment(result: Report, extension: str) -> dict[str, str]:
    society = result.scope.society_code or "all"
    filename = f"{result.name.value}_{society}_{result.window.start}_{result.window.end}.{extension}"
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
