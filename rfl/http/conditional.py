"""ETags and ``If-Match`` for optimistic concurrency on records (api.md: PATCH requires If-Match)."""

from __future__ import annotations

import hashlib
import uuid

from flask import Request

from rfl.errors import PreconditionFailed, PreconditionRequired


def etag_for(object_id: uuid.UUID, version: int) -> str:
    """A strong entity tag that changes whenever the object's version does."""
    digest = hashlib.sha256(f"{object_id}:{version}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def require_if_match(request: Request, current_etag: str) -> None:
    """Refuse a write unless the client names the version it read (412 if that is not the current one).

    ``If-Match: *`` (any version) is refused like a missing header: it would overwrite changes the
    client never saw, which is what the precondition exists to prevent.
    """
    if_match = request.headers.get("If-Match")
    if not if_match:
        raise PreconditionRequired("This request requires an If-Match header with the record's ETag.")
    offered = {tag.strip() for tag in if_match.split(",")}
    if "*" in offered:
        raise PreconditionRequired("If-Match: * is not accepted; send the ETag of the version you read.")
    if current_etag not in offered:
        raise PreconditionFailed("The record changed since it was read; fetch it again and retry.")
