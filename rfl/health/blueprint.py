"""Liveness and readiness: ``/healthz`` answers 200 only when the database answers."""

from __future__ import annotations

import logging

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from rfl.db import db
from rfl.http.auth import public

blp = Blueprint("health", __name__, description="Service health")
log = logging.getLogger(__name__)


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.String(required=True)


@blp.route("/healthz", methods=["GET"])
@public
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database does not answer.")
def healthz() -> tuple[dict[str, str], int]:
    """Readiness of the service.

    200 when the database answers, 503 otherwise. Needs no token.
    """
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as error:
        log.error("health_database_unreachable", extra={"exception_type": type(error).__qualname__})
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200
