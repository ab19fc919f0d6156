"""Liveness and readiness: ``/healthz`` answers 200 only when the database answers."""

from __future__ import annotations

import logging

import marshmallow as ma
from sqlalchemy.exc import SQLAlchemyError

from rfl.db import db
from rfl.http.auth import public
from rfl.http.blueprint import Blueprint
from rfl.outbox.services import backlog

blp = Blueprint("health", __name__, description="Service health")
log = logging.getLogger(__name__)


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.String(required=True)
    matching_backlog = ma.fields.Integer(
        allow_none=True, metadata={"description": "Records waiting for match proposals (the outbox)."}
    )


@blp.route("/healthz", methods=["GET"])
@public
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database does not answer.")
def healthz() -> tuple[dict[str, object], int]:
    """Readiness of the service.

    200 when the database answers, 503 otherwise. Needs no token.
    """
    try:
        waiting = backlog(db.session)
    except SQLAlchemyError as error:
        log.error("health_database_unreachable", extra={"exception_type": type(error).__qualname__})
        return {"status": "unavailable", "database": "unreachable", "matching_backlog": None}, 503
    return {"status": "ok", "database": "ok", "matching_backlog": waiting}, 200
