"""Routes of the accounts area: tokens, the current user, user management."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import request

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
from rfl.audit.entries import Action
from rfl.audit.recorder import record
from rfl.clock import now
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import ANY_ROLE, current_actor, public, require_roles
from rfl.http.blueprint import Blueprint
from rfl.http.conditional import etag_for, require_if_match
from rfl.http.idempotency import idempotent
from rfl.http.merge_patch import patched_document
from rfl.http.schemas import PageQuerySchema
from rfl.identity import Actor
from rfl.pagination import Page

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Authentication and users")


@blp.route("/auth/token", methods=["POST"])
@public
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
def issue_token(credentials: dict[str, str]) -> services.IssuedToken:
    """Log in: exchange email and password for a bearer token.

    A wrong email and a wrong password answer the same 401 in similar time. After 5 failures for one
    email (or 20 from one client address) within 15 minutes, logins are refused with 429 and
    Retry-After for 15 minutes, even with the right password. An email is unique within a society
    only: someone with accounts in two societies gives `society` (its code) too; without it such an
    email names no account (401).
    """
    return app_services().authenticator.login(
        db.session,
        email=credentials["email"],
        password=credentials["password"],
        society_code=credentials.get("society"),
        client_address=request.remote_addr or "",
        now=now(),
        audit=record,
    )


@blp.route("/auth/token", methods=["DELETE"])
@require_roles(*ANY_ROLE)
@blp.response(204)
def revoke_token() -> None:
    """Log out: revoke the token presented with this request.

    The token stops working at once; other tokens of the same user stay valid.
    """
    services.revoke_token(db.session, current_actor(), now=now(), audit=record)


@blp.route("/me", methods=["GET"])
@require_roles(*ANY_ROLE)
@blp.response(200, MeSchema)
def me() -> User:
    """The signed-in user.

    Id, email, name, role and society code of the user the token belongs to.
    """
    actor = current_actor()
    return services.get_user_as(db.session, actor, actor.user_id, audit=record)


def _user_for_replay(session: Any, actor: Actor, user_id: uuid.UUID) -> User:
    return services.get_user_as(session, actor, user_id, audit=record)


@blp.route("/users", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
@idempotent(_user_for_replay)
def create_user(fields: dict[str, Any]) -> User:
    """Create a user in the admin's own society.

    Admins only. `society` defaults to the admin's own; naming another society is refused (403). The
    password must be at least 12 characters. An email already used in your society is a 409; emails
    are unique per society, so the answer never tells whether another society has a user with it.
    """
    return services.create_user_as(
        db.session,
        app_services().passwords,
        current_actor(),
        email=fields["email"],
        name=fields["name"],
        role=fields["role"],
        password=fields["password"],
        society_code=fields.get("society"),
        audit=record,
    )


@blp.route("/users", methods=["GET"])
@require_roles(Role.ADMIN)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(query: dict[str, Any]) -> Page[User]:
    """List the users of the admin's society.

    Oldest first, keyset-paginated (`limit` up to 200, `cursor` from the previous page).
    """
    return services.list_users_as(
        db.session, current_actor(), limit=query["limit"], cursor=query["cursor"], audit=record
    )


@blp.route("/users/<uuid:user_id>", methods=["GET"])
@require_roles(Role.ADMIN)
@blp.response(200, UserSchema)
def get_user(user_id: uuid.UUID) -> tuple[User, int, dict[str, str]]:
    """Read one user of the admin's society.

    Users of other societies answer 404, exactly like unknown ids. The ETag is needed to change it.
    """
    user = services.get_user_as(db.session, current_actor(), user_id, audit=record)
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
    """Change a user's name, role or active flag.

    A JSON merge patch (RFC 7396, `application/merge-patch+json`) with `If-Match`. Deactivating a
    user revokes all their tokens; admins cannot demote or deactivate themselves (409).
    """
    session, actor = db.session, current_actor()
    user = services.get_user_as(session, actor, user_id, audit=record, purpose=Action.USER_UPDATE)
    require_if_match(request, etag_for(user.id, user.version))
    current = {"name": user.name, "role": user.role.value, "active": user.active}
    document = patched_document(current, patch, UserPatchSchema())
    services.update_user_as(session, actor, user, document, audit=record)
    return _user_response(user)


def _user_response(user: User) -> tuple[User, int, dict[str, str]]:
    return user, 200, {"ETag": etag_for(user.id, user.version)}
