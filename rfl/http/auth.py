"""Authentication and the one authorisation rule every route states.

Each view is decorated with ``require_roles(...)`` (or ``public``); a test walks the URL map and fails
for any route without one. The authenticated ``Actor`` is then passed explicitly into services.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import g, request

from rfl.accounts.models import Role
from rfl.accounts.services import authenticate_token, authorize
from rfl.audit.recorder import record
from rfl.clock import now
from rfl.db import db
from rfl.errors import AuthenticationRequired
from rfl.http.blueprint import Blueprint
from rfl.identity import Actor

P = ParamSpec("P")
R = TypeVar("R")

ACCESS_RULE_ATTRIBUTE = "__rfl_access_rule__"
ANY_ROLE: tuple[Role, ...] = tuple(Role)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessRule:
    public: bool
    roles: frozenset[Role]


def public(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view as reachable without a token (only the routes api.md lists as public)."""
    setattr(view, ACCESS_RULE_ATTRIBUTE, AccessRule(public=True, roles=frozenset()))
    return view


def require_roles(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Authenticate the bearer token and allow only ``roles`` (401 without a valid token, 403 otherwise)."""
    if not roles:
        raise ValueError("require_roles needs at least one role; use ANY_ROLE for every signed-in user")
    allowed = frozenset(roles)

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            actor = _authenticate()
            if actor.role not in allowed:
                log.warning(
                    "access_denied", extra={"user_id": str(actor.user_id), "endpoint": request.endpoint}
                )
            authorize(actor, allowed, endpoint=request.endpoint, audit=record)
            g.actor = actor
            return view(*args, **kwargs)

        setattr(guarded, ACCESS_RULE_ATTRIBUTE, AccessRule(public=False, roles=allowed))
        documented: Callable[P, R] = Blueprint.doc(security=[{"bearerAuth": []}])(guarded)
        return documented

    return decorator


def access_rule_of(view: Callable[..., Any]) -> AccessRule | None:
    """The access rule of a view, looking through decorators that wrap it."""
    current: Any = view
    while current is not None:
        rule = getattr(current, ACCESS_RULE_ATTRIBUTE, None)
        if rule is not None:
            return rule  # type: ignore[no-any-return]
        current = getattr(current, "__wrapped__", None)
    return None


def current_actor() -> Actor:
    actor: Actor | None = g.get("actor")
    if actor is None:
        raise RuntimeError("current_actor() used in a view without require_roles")
    return actor


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _authenticate() -> Actor:
    token = bearer_token()
    if token is None:
        raise AuthenticationRequired("A bearer token is required.")
    return authenticate_token(db.session, token, now=now())
