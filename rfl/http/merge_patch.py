"""JSON merge patch (RFC 7396), the one PATCH path: the view patches the resource's current document and
validates the result as a whole; the service receives the validated document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from rfl.errors import ValidationFailed


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Return ``target`` with ``patch`` applied; neither argument is modified.

    Objects merge recursively, ``null`` removes a member, anything else replaces the target whole
    (arrays included), exactly as RFC 7396 section 2 specifies.
    """
    if not isinstance(patch, Mapping):
        return patch
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = apply_merge_patch(result.get(name), value)
    return result


def patched_document(current: Mapping[str, Any], patch: Any, schema: ma.Schema) -> dict[str, Any]:
    """``current`` with ``patch`` applied, loaded by ``schema`` (422 naming each bad field)."""
    try:
        loaded: dict[str, Any] = schema.load(apply_merge_patch(current, patch))
    except ma.ValidationError as error:
        raise ValidationFailed(error.messages_dict) from None
    return loaded
