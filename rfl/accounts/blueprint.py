"""Routes of the accounts area: tokens, the current user, user management."""

from __future__ import annotations

import uuid
from typing import Any, cast

import marshmallow as ma
from flask import current_app, request
from flask_smorest import Blueprint

from rfl.accounts import services
from rfl.accounts.models import Role, User
from rfl.accounts.schemas import (
    MeSchema,
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserPageSchema,
    UserPatchSchema,
    UserSchema,
)
from rfl.audit.recorder import record
from rfl.audit.services import AuditEntry, Outcome
from rfl.clock import now
from rfl.db import db
from rfl.errors import AuthenticationRequired, PermissionDenied, TooManyAttempts, ValidationFailed
from rfl.http.auth import ANY_ROLE, current_actor, public, require_roles
from rfl.http.conditional import etag_for, require_if_match
from rfl.http.idempotency import idempotent
from rfl.http.merge_patch import apply_merge_patch
from rfl.http.pagination import Page
from rfl.http.schemas import PageQuerySchema

_USER_FIELDS = ("email", "name", "role", "password")

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Authentication and users")


@blp.route("/auth/token", methods=["POST"])
@public
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
def issue_token(credentials: dict[str, str]) -> services.IssuedToken:
    """Log in: exchange email and password for a bearer token."""
    authenticator: services.Authenticator = current_app.extensions["rfl.authenticator"]
    try:
        issued = authenticator.login(
            db.session,
            email=credentials["email"],
            password=credentials["password"],
            client_address=request.remote_addr or "",
            now=now(),
        )
    except AuthenticationRequired:
        record(AuditEntry(action="auth.login", outcome=Outcome.FAILED))  # no email: it may be anyone's
        raise
    except TooManyAttempts:
        record(AuditEntry(action="auth.login", outcome=Outcome.DENIED))
        raise
    record(
        AuditEntry(
            action="auth.login", actor=issued.actor, object_type="user", object_id=str(issued.actor.user_id)
        )
    )
    return issued


@blp.route("/auth/token", methods=["DELETE"])
@require_roles(*ANY_ROLE)
@blp.response(204)
def revoke_token() -> None:
    """Log out: revoke the token presented with this request."""
    actor = current_actor()
    services.revoke_token(db.session, actor, now=now())
    record(AuditEntry(action="auth.logout", actor=actor, object_type="user", object_id=str(actor.user_id)))


@blp.route("/me", methods=["GET"])
@require_roles(*ANY_ROLE)
@blp.response(200, MeSchema)
def me() -> User:
    actor = current_actor()
    return services.get_user_as(db.session, actor, actor.user_id)


@blp.route("/users", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
@idempotent(services.get_user_as)
def create_user(fields: dict[str, Any]) -> User:
    """Create a user in the admin's own society."""
    actor = current_actor()
    try:
        user = services.create_user_as(
            db.session,
            current_app.extensions["rfl.passwords"],
            actor,
            email=fields["email"],
            name=fields["name"],
            role=fields["role"],
            password=fields["password"],
            society_code=fields.get("society"),
        )
    except PermissionDenied:
        record(AuditEntry(action="user.create", outcome=Outcome.DENIED, actor=actor, object_type="user"))
        raise
    record(
        AuditEntry(
            action="user.create", actor=actor, object_type="user", object_id=str(user.id), fields=_USER_FIELDS
        )
    )
    return user


@blp.route("/users", methods=["GET"])
@require_roles(Role.ADMIN)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(query: dict[str, Any]) -> Page[User]:
    return services.list_users_as(db.session, current_actor(), limit=query["limit"], cursor=query["cursor"])


@blp.route("/users/<uuid:user_id>", methods=["GET"])
@require_roles(Role.ADMIN)
@blp.response(200, UserSchema)
def get_user(user_id: uuid.UUID) -> tuple[User, int, dict[str, str]]:
    user = services.get_user_as(db.session, current_actor(), user_id)
    return _user_response(user)


class UserMergePatchSchema(ma.Schema):
    """Documents the merge patch body; the patched result is validated by ``UserPatchSchema``."""

    class Meta:
        unknown = ma.INCLUDE  # unknown members are rejected after patching, by UserPatchSchema

    name = ma.fields.Raw(allow_none=True)
    role = ma.fields.Raw(allow_none=True)
    active = ma.fields.Raw(allow_none=True)


@blp.route("/users/<uuid:user_id>", methods=["PATCH"])
@require_roles(Role.ADMIN)
@blp.arguments(UserMergePatchSchema, content_type="application/merge-patch+json")
@blp.response(200, UserSchema)
def update_user(patch: dict[str, Any], user_id: uuid.UUID) -> tuple[User, int, dict[str, str]]:
    """Change a user's name, role or active flag (JSON merge patch; requires If-Match)."""
    actor = current_actor()
    user = services.get_user_as(db.session, actor, user_id)
    require_if_match(request, etag_for(user.id, user.version))
    current = {"name": user.name, "role": user.role.value, "active": user.active}
    try:
        patched = UserPatchSchema().load(apply_merge_patch(current, patch))
    except ma.ValidationError as error:
        raise ValidationFailed(cast(dict[str, list[str]], error.messages)) from None
    changes = {name: value for name, value in patched.items() if getattr(user, name) != value}
    services.update_user_as(db.session, actor, user, changes)
    record(
        AuditEntry(
            action="user.update",
            actor=actor,
            object_type="user",
            object_id=str(user.id),
            fields=tuple(changes),
        )
    )
    return _user_response(user)


def _user_response(user: User) -> tuple[User, int, dict[str, str]]:
    return user, 200, {"ETag": etag_for(user.id, user.version)}
