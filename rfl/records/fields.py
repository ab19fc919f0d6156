"""Which personal fields each record has, which data subject each belongs to, and how it is stored.

Every field listed here is personal data: it is stored only as a ciphertext in a column named
``<prefix><field>``, bound to its table, column, row and subject. Plaintext columns are declared in the
models and limited to ids, society, status, legal basis, rule flags and timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a field's value is kept inside its ciphertext (the privacy engine stores text and lists)."""

    TEXT = "text"
    LIST = "list"
    BOOL = "bool"
    AGE = "age"  # an integer or a range "30-35", kept as text


class SubjectRole(StrEnum):
    SOUGHT = "sought"
    ENQUIRER = "enquirer"
    FOUND = "found"


@dataclass(frozen=True)
class Group:
    """A group of fields as the API nests them (``key``; None for top-level fields)."""

    key: str | None
    prefix: str
    subject: SubjectRole
    fields: tuple[tuple[str, Kind], ...]

    def column(self, field: str) -> str:
        return f"{self.prefix}{field}"


T, L, B, A = Kind.TEXT, Kind.LIST, Kind.BOOL, Kind.AGE

IDENTITY_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("given_name", T),
    ("family_name", T),
    ("full_name", T),
    ("alternate_names", L),
    ("sex", T),
    ("birth_date", T),
    ("age", A),
    ("birth_place", T),
    ("nationality", T),
    ("father_name", T),
    ("mother_name", T),
    ("languages", L),
    ("distinguishing_marks", T),
)
IDENTIFIER_FIELDS: tuple[tuple[str, Kind], ...] = (("document_id", T), ("phone", T))
PERSON_FIELDS = IDENTITY_FIELDS + IDENTIFIER_FIELDS
NAME_FIELDS = ("given_name", "family_name", "full_name", "alternate_names")

TRACING_REQUEST_GROUPS: tuple[Group, ...] = (
    Group("sought_person", "sought_", SubjectRole.SOUGHT, PERSON_FIELDS),
    Group(
        "enquirer",
        "enquirer_",
        SubjectRole.ENQUIRER,
        (
            ("full_name", T),
            ("relationship", T),
            ("phone", T),
            ("email", T),
            ("address", T),
            ("shares_identity_with_sought_person", B),
        ),
    ),
    Group(
        "separation",
        "separation_",
        SubjectRole.SOUGHT,
        (("date", T), ("place", T), ("circumstances", T), ("last_known_place", T), ("route", T)),
    ),
    Group(None, "", SubjectRole.ENQUIRER, (("message", T),)),
)

SIGHTING_GROUPS: tuple[Group, ...] = (
    Group("person", "person_", SubjectRole.FOUND, PERSON_FIELDS),
    Group("registration", "registration_", SubjectRole.FOUND, (("date", T), ("place", T), ("country", T))),
    Group(
        "whereabouts",
        "whereabouts_",
        SubjectRole.FOUND,
        (("current_place", T), ("address", T), ("phone", T), ("email", T)),
    ),
    Group(None, "", SubjectRole.FOUND, (("condition", T), ("seeking_family", B))),
)
