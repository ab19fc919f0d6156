"""The SQL that SQLite and PostgreSQL spell differently: the UTC month of a timestamp, and the days
between two timestamps. Reports group and subtract in the database, so their time grows with the number
of groups rather than of records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa


def month_of(dialect: str, moment: sa.ColumnElement[datetime] | Any) -> sa.ColumnElement[str]:
    """``YYYY-MM`` of a timestamp, in UTC."""
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", moment), "YYYY-MM", type_=sa.String)
    # SQLite keeps timestamps as UTC text (``rfl.db.UTCDateTime``).
    return sa.func.strftime("%Y-%m", moment, type_=sa.String)


def days_between(
    dialect: str, start: sa.ColumnElement[datetime] | Any, end: sa.ColumnElement[datetime] | Any
) -> sa.ColumnElement[float]:
    if dialect == "postgresql":
        seconds = sa.extract("epoch", end - start)
        return sa.cast(seconds / 86400.0, sa.Float)
    return sa.cast(sa.func.julianday(end) - sa.func.julianday(start), sa.Float)
