"""HTTP schemas of the accounts area."""

from __future__ import annotations

import marshmallow as ma

from rfl.accounts.models import Role
from rfl.accounts.passwords import MAX_PASSWORD_LENGTH
from rfl.http.schemas import StrictSchema

_role_field = {"enum": Role, "by_value": True}


class TokenRequestSchema(StrictSchema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=254))
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=MAX_PASSWORD_LENGTH)
    )
    # Needed only by someone whose email has accounts in more than one society.
    society = ma.fields.String(validate=ma.validate.Length(min=1, max=16))


class TokenSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expires_at = ma.fields.AwareDateTime(required=True)


class MeSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    email = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.Enum(Role, by_value=True, required=True)
    society = ma.fields.Function(lambda user: user.society.code, required=True)


class UserSchema(MeSchema):
    active = ma.fields.Boolean(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class UserCreateSchema(StrictSchema):
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    role = ma.fields.Enum(Role, by_value=True, required=True)
    password = ma.fields.String(required=True, load_only=True)
    society = ma.fields.String(validate=ma.validate.Length(min=1, max=16))


class UserPatchSchema(StrictSchema):
    """The editable fields after a merge patch is applied; all must remain present and non-null."""

    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    role = ma.fields.Enum(Role, by_value=True, required=True)
    active = ma.fields.Boolean(required=True)


class UserPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(UserSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
