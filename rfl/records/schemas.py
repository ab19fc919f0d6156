"""HTTP schemas of records: validation of partial dates, ages, country codes, lengths, enumerations."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

import marshmallow as ma
import pycountry

from matching import InputError, parse_age, parse_partial_date
from matching.dates import MAX_AGE
from rfl.clock import now
from rfl.http.schemas import StrictSchema
from rfl.records.models import LegalBasis, RecordStatus

# Patterns for the API description only: matching's parsers decide what is valid.
PARTIAL_DATE_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
AGE_PATTERN = r"^[0-9]{1,3}(-[0-9]{1,3})?$"
SOCIETY_CODE = re.compile(r"^[A-Z0-9-]{1,16}$")
# Nobody alive or looked for was born before this year; an earlier one is a typing error.
EARLIEST_YEAR = 1880


# A new record is open or closed; awaiting_consent and disclosed come from the match workflow.
_EDITABLE_STATUS = ma.validate.OneOf([RecordStatus.OPEN, RecordStatus.CLOSED])


class PartialDate(ma.fields.String):
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (birth dates are often known only partly), never after
    today: a date still to come is a typing error (births, separations and registrations happened)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault("pattern", PARTIAL_DATE_PATTERN)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            year, month, day = parse_partial_date(text)
        except InputError:
            raise ma.ValidationError("Must be YYYY, YYYY-MM or YYYY-MM-DD, and a real date.") from None
        if year < EARLIEST_YEAR:
            raise ma.ValidationError(f"The year must be {EARLIEST_YEAR} or later.")
        if date(year, month or 1, day or 1) > now().date():
            raise ma.ValidationError("Must not be in the future.")
        return text


AGE_MESSAGE = f"Must be a whole number of years (0 to {MAX_AGE}) or a range such as '30-35'."


class Age(ma.fields.Field[int | str]):
    """An age in years, or a range ``"30-35"``, as of the record's date."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update(
            {
                "oneOf": [
                    {"type": "integer", "minimum": 0, "maximum": MAX_AGE},
                    {"type": "string", "pattern": AGE_PATTERN},
                ]
            }
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | str:
        if not isinstance(value, int | str) or isinstance(value, bool):
            raise ma.ValidationError(AGE_MESSAGE)
        try:
            parse_age(value)
        except InputError:
            raise ma.ValidationError(AGE_MESSAGE) from None
        return value

    def _serialize(
        self, value: int | str | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> int | str | None:
        return value


class CountryCode(ma.fields.String):
    """ISO 3166-1 alpha-2, upper case."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) != 2 or pycountry.countries.get(alpha_2=text.upper()) is None:
            raise ma.ValidationError("Must be an ISO 3166-1 alpha-2 country code.")
        return text.upper()


def _text(max_length: int = 200, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(min=1, max=max_length), **kwargs)


def _names(max_items: int = 20) -> ma.fields.List[str]:
    return ma.fields.List(_text(), validate=ma.validate.Length(max=max_items))


class PersonSchema(StrictSchema):
    given_name = _text()
    family_name = _text()
    full_name = _text(400)
    alternate_names = _names()
    sex = ma.fields.String(validate=ma.validate.OneOf(["F", "M", "U"]))
    birth_date = PartialDate()
    age = Age()
    birth_place = _text()
    nationality = CountryCode()
    father_name = _text()
    mother_name = _text()
    languages = ma.fields.List(_text(60), validate=ma.validate.Length(max=10))
    distinguishing_marks = _text(2000)
    flagged_minor = ma.fields.Boolean()
    document_id = _text(100)
    phone = _text(50)

    @ma.validates_schema
    def _has_a_name(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(data.get(name) for name in ("given_name", "family_name", "full_name")):
            raise ma.ValidationError(
                "At least one of given_name, family_name or full_name is required.", "given_name"
            )


class EnquirerSchema(StrictSchema):
    full_name = _text(400, required=True)
    relationship = _text(100)
    phone = _text(50)
    email = ma.fields.Email(validate=ma.validate.Length(max=254))
    address = _text(1000)
    shares_identity_with_sought_person = ma.fields.Boolean(load_default=False)


class SeparationSchema(StrictSchema):
    date = PartialDate()
    place = _text()
    circumstances = _text(2000)
    last_known_place = _text()
    route = _text(2000)


class TracingRequestInputSchema(StrictSchema):
    """The editable document of a tracing request (create, and the result of a merge patch)."""

    sought_person = ma.fields.Nested(PersonSchema, required=True)
    enquirer = ma.fields.Nested(EnquirerSchema, required=True)
    separation = ma.fields.Nested(SeparationSchema, load_default=dict)
    message = _text(4000)
    legal_basis = ma.fields.Enum(LegalBasis, by_value=True, required=True)
    status = ma.fields.Enum(
        RecordStatus, by_value=True, load_default=RecordStatus.OPEN, validate=_EDITABLE_STATUS
    )


class TracingRequestUpdateSchema(TracingRequestInputSchema):
    """The document after a merge patch: an edit may change the status, never drop it."""

    status = ma.fields.Enum(RecordStatus, by_value=True, required=True)


class RegistrationSchema(StrictSchema):
    date = PartialDate(required=True)
    place = _text()
    country = CountryCode()


class WhereaboutsSchema(StrictSchema):
    current_place = _text()
    address = _text(1000)
    phone = _text(50)
    email = ma.fields.Email(validate=ma.validate.Length(max=254))


class RestrictionsSchema(StrictSchema):
    no_cross_border = ma.fields.Boolean(load_default=False)
    excluded = ma.fields.List(
        ma.fields.String(),
        load_default=list,
        validate=ma.validate.Length(max=200),
        data_key="exclude",
        attribute="exclude",
    )

    @ma.validates("excluded")
    def _society_codes_or_request_ids(self, values: list[str], **kwargs: Any) -> None:
        # By position only: what is neither a code nor an id may be anything typed, even a name.
        problems: dict[str, list[str]] = {}
        for position, value in enumerate(values):
            if SOCIETY_CODE.match(value.strip().upper()):
                continue
            try:
                uuid.UUID(value)
            except ValueError:
                problems[str(position)] = [
                    "Each entry is a society code (e.g. 'IT') or a tracing request id."
                ]
        if problems:
            raise ma.ValidationError(problems)


class SightingInputSchema(StrictSchema):
    person = ma.fields.Nested(PersonSchema, required=True)
    registration = ma.fields.Nested(RegistrationSchema, required=True)
    condition = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["alive", "detained", "hospitalised", "deceased"])
    )
    whereabouts = ma.fields.Nested(WhereaboutsSchema, load_default=dict)
    seeking_family = ma.fields.Boolean(load_default=False)
    restrictions = ma.fields.Nested(
        RestrictionsSchema, load_default=lambda: {"no_cross_border": False, "exclude": []}
    )
    legal_basis = ma.fields.Enum(LegalBasis, by_value=True, required=True)
    status = ma.fields.Enum(
        RecordStatus, by_value=True, load_default=RecordStatus.OPEN, validate=_EDITABLE_STATUS
    )


class SightingUpdateSchema(SightingInputSchema):
    """The document after a merge patch: an edit may change the status, never drop it."""

    status = ma.fields.Enum(RecordStatus, by_value=True, required=True, validate=_EDITABLE_STATUS)


class RecordMetaSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
    society = ma.fields.String(required=True)
    legal_basis = ma.fields.String(required=True)
    minor = ma.fields.Boolean(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class TracingRequestSchema(RecordMetaSchema):
    sought_person = ma.fields.Nested(PersonSchema, required=True)
    enquirer = ma.fields.Nested(EnquirerSchema, required=True)
    separation = ma.fields.Nested(SeparationSchema, required=True)
    message = ma.fields.String(allow_none=True)


class SightingSchema(RecordMetaSchema):
    person = ma.fields.Nested(PersonSchema, required=True)
    registration = ma.fields.Nested(RegistrationSchema, required=True)
    condition = ma.fields.String(required=True)
    whereabouts = ma.fields.Nested(WhereaboutsSchema, required=True)
    seeking_family = ma.fields.Boolean(required=True)
    restrictions = ma.fields.Nested(RestrictionsSchema, required=True)


class RecordSummarySchema(RecordMetaSchema):
    """List items: the plain columns and a display name (decrypted for the owning society, audited)."""

    display_name = ma.fields.String(allow_none=True, required=True)


class RecordPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RecordSummarySchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class RecordListQuerySchema(StrictSchema):
    status = ma.fields.Enum(RecordStatus, by_value=True, load_default=None)
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class SearchSchema(StrictSchema):
    q = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=400))
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


class SightingSearchSchema(SearchSchema):
    tracing_request_id = ma.fields.UUID(
        load_default=None,
        metadata={
            "description": "One of your society's tracing requests the search is made for: only then are "
            "other societies' sightings searched (tracing officers), as that request may see them."
        },
    )


_OWN_ONLY = "Only on your own society's records."


class SearchHitSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    society = ma.fields.String(required=True)
    band = ma.fields.String(
        required=True,
        metadata={
            "description": "`strong` or `possible`: how many of the query's name skeletons the record "
            "holds. Other societies' hits carry nothing else, and are ordered by id within a band."
        },
    )
    status = ma.fields.String(metadata={"description": _OWN_ONLY})
    score = ma.fields.Float(metadata={"description": _OWN_ONLY + " The matcher's name evidence (0-1)."})
    name = ma.fields.String(allow_none=True, metadata={"description": _OWN_ONLY})


class SearchResultSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SearchHitSchema), required=True)
