"""HTTP schemas of the reports: the query, and the JSON answer."""

from __future__ import annotations

from datetime import date

import marshmallow as ma

from rfl.http.schemas import StrictSchema
from rfl.reports.periods import FIRST_YEAR, LAST_YEAR, Granularity

FORMATS = ("json", "csv", "png")
DAYS = ma.validate.Range(min=date(FIRST_YEAR, 1, 1), max=date(LAST_YEAR, 12, 31))


class ReportQuerySchema(StrictSchema):
    society = ma.fields.String(
        load_default=None,
        validate=ma.validate.Regexp(r"^[A-Za-z0-9-]{1,16}$", error="Must be a society code, e.g. IT."),
        metadata={
            "description": "A society code. Without it: your own society, or every society together for "
            "the Central Tracing Agency (which may also name any society)."
        },
    )
    from_ = ma.fields.Date(
        data_key="from",
        load_default=None,
        validate=DAYS,
        metadata={
            "description": "First day counted (UTC). Default: the first day of the month 11 months "
            "before `to`'s."
        },
    )
    to = ma.fields.Date(
        load_default=None, validate=DAYS, metadata={"description": "Last day counted (UTC). Default: today."}
    )
    granularity = ma.fields.Enum(
        Granularity,
        by_value=True,
        load_default=Granularity.MONTH,
        metadata={"description": "Rows are periods of this size."},
    )
    format = ma.fields.String(
        load_default="json",
        validate=ma.validate.OneOf(FORMATS),
        metadata={
            "description": "json; csv (one line per figure, for spreadsheets); png (a chart of the "
            "headline figures)."
        },
    )


class FigureSchema(ma.Schema):
    value = ma.fields.Raw(
        required=True,
        allow_none=True,
        metadata={
            "type": "number",
            "nullable": True,
            "description": "null when withheld (or without a value).",
        },
    )
    suppressed = ma.fields.Boolean(
        required=True,
        metadata={"description": "Withheld: below the threshold, or it would give such a count back."},
    )


class ReportRowSchema(ma.Schema):
    key = ma.fields.String(required=True, metadata={"description": "A period, a society code, or `total`."})
    cells = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(FigureSchema),
        required=True,
        metadata={
            "description": "The published figures of the row by column; a column absent here is not "
            "published."
        },
    )


class ReportTableSchema(ma.Schema):
    name = ma.fields.String(required=True)
    definition = ma.fields.String(required=True, metadata={"description": "Exactly what is counted."})
    row_dimension = ma.fields.String(required=True)
    column_dimension = ma.fields.String(required=True)
    columns = ma.fields.List(ma.fields.String(), required=True)
    rows = ma.fields.List(ma.fields.Nested(ReportRowSchema), required=True)


class ReportSchema(ma.Schema):
    report = ma.fields.String(required=True)
    society = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "null: every society."}
    )
    from_ = ma.fields.String(data_key="from", attribute="from", required=True, metadata={"format": "date"})
    to = ma.fields.String(required=True, metadata={"format": "date"})
    granularity = ma.fields.String(required=True)
    threshold = ma.fields.Integer(required=True)
    tables = ma.fields.List(ma.fields.Nested(ReportTableSchema), required=True)
