"""The one mapping from a decrypted record to the matcher's canonical fields.

Only what the matcher compares leaves a record this way: identity and identifier fields of the person
the record is about (the sought person of a tracing request, the found person of a sighting), the date
ages are measured at, and one place. Never the enquirer, contact details or whereabouts. The result
lives in memory only, for as long as scoring takes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

# Person fields the matcher compares, by their name in both the API and the canonical record.
MATCHED_PERSON_FIELDS = (
    "given_name",
    "family_name",
    "full_name",
    "alternate_names",
    "sex",
    "birth_date",
    "age",
    "birth_place",
    "nationality",
    "father_name",
    "mother_name",
    "phone",
    "document_id",
)
NAME_FIELDS = ("given_name", "family_name", "full_name", "alternate_names")
# The outbox topic of a record whose proposals are to be made anew: created, edited in a matched field,
# closed or opened again.
MATCHED_FIELDS_CHANGED = "records.matched_fields_changed"


def matched_field_names(person_group: str) -> frozenset[str]:
    """Dotted names of every field ``canonical_record`` reads, for a record whose person is
    ``person_group``: a change in any of them needs new proposals."""
    person = {f"{person_group}.{name}" for name in MATCHED_PERSON_FIELDS}
    return frozenset(
        person
        | {"registration.date", "registration.place", "separation.place", "separation.last_known_place"}
    )


def record_place(document: Mapping[str, Any]) -> str | None:
    """The one place the matcher compares: where a sighting was registered, or where the sought person
    was last known to be (else where the separation happened)."""
    registration = document.get("registration") or {}
    separation = document.get("separation") or {}
    place = registration.get("place") or separation.get("last_known_place") or separation.get("place")
    return str(place) if place else None


def canonical_record(
    record_id: uuid.UUID, person: Mapping[str, Any], *, record_date: date, place: str | None
) -> dict[str, Any]:
    """The canonical mapping of one person (``person``: the record's decrypted person group)."""
    canonical: dict[str, Any] = {"id": str(record_id), "record_date": record_date.isoformat()}
    for name in MATCHED_PERSON_FIELDS:
        value = person.get(name)
        if value is not None:
            canonical[name] = value
    if place:
        canonical["place"] = place
    return canonical


def canonical_names(record_id: uuid.UUID, person: Mapping[str, Any]) -> dict[str, Any]:
    """Only the names of a person, for name search."""
    names = {name: person[name] for name in NAME_FIELDS if person.get(name)}
    return {"id": str(record_id), **names}
