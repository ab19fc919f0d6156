"""PFIF (People Finder Interchange Format) 1.1 to 1.4: reading hostile files safely, and writing 1.4.

Reading goes through defusedxml with DTDs, entity declarations and external references forbidden: a
document that declares any of them (a billion-laughs bomb, an external entity, any DOCTYPE) is refused
before anything is expanded or fetched. Element names are read namespace-prefixed or not; the older
names (``first_name``/``last_name`` until 1.3, ``other`` until 1.3, ``found`` until 1.2, ``home_zip``
in 1.1) are read as their 1.4 successors. Notes are read nested in their person or at the top level.

A person becomes the document of a tracing request or of a sighting from its latest decisive note:
``information_sought`` or ``believed_missing`` make a tracing request; ``believed_alive``,
``is_note_author`` or a note whose author made contact (``found``/``author_made_contact`` true) make a
sighting of a living person; ``believed_dead`` a sighting of a deceased person. The documents are
validated afterwards by the same rules as the API.
"""

from __future__ import annotations

import re

# Only to build documents: reading goes through defusedxml.
import xml.etree.ElementTree as ET  # nosec B405
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from rfl.errors import ValidationFailed

NAMESPACES = {f"http://zesty.ca/pfif/1.{minor}": f"1.{minor}" for minor in range(1, 5)}
NAMESPACE_14 = "http://zesty.ca/pfif/1.4"
# Older field names and the 1.4 names they became.
RENAMED = {
    "first_name": "given_name",
    "last_name": "family_name",
    "other": "description",
    "found": "author_made_contact",
    "home_zip": "home_postal_code",
}
SOUGHT_STATUSES = frozenset({"information_sought", "believed_missing"})
ALIVE_STATUSES = frozenset({"believed_alive", "is_note_author"})
DEAD_STATUSES = frozenset({"believed_dead"})
SEX = {"female": "F", "male": "M", "other": "U"}
_AGE = re.compile(r"^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?$")


@dataclass
class Note:
    fields: dict[str, str]
    order: int


@dataclass
class Person:
    position: int
    fields: dict[str, str]
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class Incoming:
    """A record read from a file: where it was, its source id, its record type and document."""

    position: int
    source_id: str
    kind: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """Why a record was rejected: its position, the field, the reason (never the value)."""

    position: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "field": self.field, "reason": self.reason}


def _refused(reason: str) -> ValidationFailed:
    return ValidationFailed({"file": [reason]}, detail=f"The file cannot be imported: {reason}")


def parse(data: bytes) -> list[Person]:
    """The persons of a PFIF document (with their notes), or ValidationFailed saying why the file is
    refused as a whole (never quoting it)."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise _refused(
            "it declares a DTD, entities or external references, which are refused unread."
        ) from None
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise _refused(f"it is not well-formed XML (line {line}, column {column + 1}).") from None
    namespace, name = _split(root.tag)
    if namespace is not None and namespace not in NAMESPACES:
        raise _refused("its root element is not in a PFIF namespace (http://zesty.ca/pfif/1.1 to 1.4).")
    if name != "pfif":
        raise _refused("its root element is not <pfif>.")
    persons: list[Person] = []
    loose: list[Note] = []
    order = 0
    for child in root:
        child_namespace, child_name = _split(child.tag)
        if child_namespace != namespace:
            continue  # another vocabulary's extension element
        if child_name == "person":
            person = Person(len(persons) + 1, _fields(child, namespace))
            for element in child:
                if _split(element.tag) == (namespace, "note"):
                    order += 1
                    person.notes.append(Note(_fields(element, namespace), order))
            persons.append(person)
        elif child_name == "note":
            order += 1
            loose.append(Note(_fields(child, namespace), order))
    by_id = {person.fields.get("person_record_id"): person for person in persons}
    for note in loose:
        owner = by_id.get(note.fields.get("person_record_id"))
        if owner is not None:
            owner.notes.append(note)
    return persons


def _split(tag: Any) -> tuple[str | None, str]:
    if not isinstance(tag, str):
        return None, ""  # a comment or processing instruction
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return None, tag


def _fields(element: Any, namespace: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for child in element:
        child_namespace, name = _split(child.tag)
        if child_namespace != namespace or name in ("note", ""):
            continue
        text = (child.text or "").strip()
        if text:
            values[RENAMED.get(name, name)] = text
    return values


# --- persons to documents --------------------------------------------------------------------------


def documents(persons: Sequence[Person], legal_basis: str) -> tuple[list[Incoming], list[Problem]]:
    """Each person as a tracing request or sighting document, or the problem that stops it."""
    records: list[Incoming] = []
    problems: list[Problem] = []
    for person in persons:
        source_id = person.fields.get("person_record_id", "")
        if "/" not in source_id.strip("/"):
            problems.append(Problem(person.position, "person_record_id", "Missing or not domain/local-id."))
            continue
        note = _decisive_note(person.notes)
        if note is None:
            problems.append(
                Problem(
                    person.position,
                    "note.status",
                    "No note says whether the person is sought or found (information_sought, "
                    "believed_missing, believed_alive, is_note_author, believed_dead).",
                )
            )
            continue
        status = _status(note)
        if status in SOUGHT_STATUSES:
            records.append(
                Incoming(person.position, source_id, "tracing_request", _request(person, note, legal_basis))
            )
        else:
            records.append(
                Incoming(
                    person.position,
                    source_id,
                    "sighting",
                    _sighting(person, note, legal_basis, deceased=status in DEAD_STATUSES),
                )
            )
    return records, problems


def _status(note: Note) -> str | None:
    status = note.fields.get("status")
    if status in SOUGHT_STATUSES | ALIVE_STATUSES | DEAD_STATUSES:
        return status
    if note.fields.get("author_made_contact", "").lower() == "true":
        return "believed_alive"
    return None


def _decisive_note(notes: Iterable[Note]) -> Note | None:
    """The latest note (by source date, then entry date, then place in the file) that says something."""
    decisive = [note for note in notes if _status(note) is not None]
    if not decisive:
        return None
    return max(
        decisive,
        key=lambda note: (note.fields.get("source_date") or note.fields.get("entry_date") or "", note.order),
    )


def _person_fields(fields: Mapping[str, str]) -> dict[str, Any]:
    person: dict[str, Any] = {}
    for name in ("full_name", "given_name", "family_name"):
        if fields.get(name):
            person[name] = fields[name]
    alternates = [line.strip() for line in fields.get("alternate_names", "").splitlines() if line.strip()]
    if alternates:
        person["alternate_names"] = alternates
    if fields.get("sex"):
        person["sex"] = SEX.get(fields["sex"].lower(), fields["sex"])
    if fields.get("date_of_birth"):
        person["birth_date"] = fields["date_of_birth"]
    if fields.get("age"):
        person["age"] = _age(fields["age"])
    return person


def _age(text: str) -> int | str:
    found = _AGE.match(text)
    if found is None:
        return text  # rejected by validation, with the API's message
    low, high = found.groups()
    return int(low) if high is None else f"{int(low)}-{int(high)}"


def _day(text: str | None) -> str | None:
    """The date part of a PFIF timestamp (``2010-01-16T17:32:05Z``)."""
    return text[:10] if text else None


def _request(person: Person, note: Note, legal_basis: str) -> dict[str, Any]:
    fields = person.fields
    enquirer: dict[str, Any] = {}
    # The record's author (or the note's) asked: for a list of another organisation, the organisation.
    author = fields.get("author_name") or note.fields.get("author_name")
    if author:
        enquirer["full_name"] = author
    for pfif_name, name in (("author_phone", "phone"), ("author_email", "email")):
        value = fields.get(pfif_name) or note.fields.get(pfif_name)
        if value:
            enquirer[name] = value
    separation: dict[str, Any] = {}
    if note.fields.get("last_known_location"):
        separation["last_known_place"] = note.fields["last_known_location"]
    if fields.get("description"):
        separation["circumstances"] = fields["description"]
    document: dict[str, Any] = {
        "sought_person": _person_fields(fields),
        "enquirer": enquirer,
        "legal_basis": legal_basis,
    }
    if separation:
        document["separation"] = separation
    return document


def _sighting(person: Person, note: Note, legal_basis: str, *, deceased: bool) -> dict[str, Any]:
    fields = person.fields
    registered = (
        _day(note.fields.get("source_date"))
        or _day(note.fields.get("entry_date"))
        or _day(fields.get("source_date"))
        or _day(fields.get("entry_date"))
    )
    whereabouts: dict[str, Any] = {}
    for pfif_name, name in (
        ("last_known_location", "current_place"),
        ("phone_of_found_person", "phone"),
        ("email_of_found_person", "email"),
    ):
        if note.fields.get(pfif_name):
            whereabouts[name] = note.fields[pfif_name]
    document: dict[str, Any] = {
        "person": _person_fields(fields),
        "registration": {"date": registered} if registered else {},
        "condition": "deceased" if deceased else "alive",
        "legal_basis": legal_basis,
    }
    if whereabouts:
        document["whereabouts"] = whereabouts
    return document


# --- writing PFIF 1.4 ------------------------------------------------------------------------------

# PFIF 1.4's person and note fields in the order its schema lists them.
PERSON_ORDER = (
    "person_record_id",
    "entry_date",
    "expiry_date",
    "author_name",
    "source_name",
    "source_date",
    "full_name",
    "given_name",
    "family_name",
    "alternate_names",
    "sex",
    "date_of_birth",
    "age",
)
NOTE_ORDER = ("note_record_id", "person_record_id", "entry_date", "author_name", "source_date", "status")
PFIF_SEX = {value: key for key, value in SEX.items()}
# The identity fields a PFIF export carries (PFIF has no place for the others).
EXPORTED_PERSON_FIELDS = (
    "full_name",
    "given_name",
    "family_name",
    "alternate_names",
    "sex",
    "birth_date",
    "age",
)


@dataclass(frozen=True)
class Shared:
    """A record as it leaves: an id in the exporter's domain, identity fields, and what its note says."""

    record_id: str
    kind: str
    society: str
    person: Mapping[str, Any]
    status: str
    created_at: datetime
    # When partners must delete their copy (from retention); None: no time limit.
    expires_on: date | None = None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def person_fields(record: Shared, domain: str) -> dict[str, str]:
    """A shared record's PFIF person fields (identity only: never whereabouts or contact details)."""
    person = record.person
    values = {
        "person_record_id": f"{domain}/{record.kind}.{record.record_id}",
        "entry_date": _timestamp(record.created_at),
        "expiry_date": _timestamp(_midnight(record.expires_on)) if record.expires_on else None,
        "author_name": record.society,
        "source_name": record.society,
        "source_date": _timestamp(record.created_at),
        "full_name": person.get("full_name"),
        "given_name": person.get("given_name"),
        "family_name": person.get("family_name"),
        "alternate_names": "\n".join(person.get("alternate_names") or []) or None,
        "sex": PFIF_SEX.get(person.get("sex") or ""),
        "date_of_birth": person.get("birth_date"),
        "age": None if person.get("age") is None else str(person["age"]),
    }
    return {name: value for name, value in values.items() if value}


def write(records: Iterable[Shared], domain: str) -> bytes:
    """A PFIF 1.4 document of the records, each with one note saying whether it is sought or found."""
    ET.register_namespace("pfif", NAMESPACE_14)
    root = ET.Element(f"{{{NAMESPACE_14}}}pfif")
    for record in records:
        person = ET.SubElement(root, f"{{{NAMESPACE_14}}}person")
        values = person_fields(record, domain)
        for name in PERSON_ORDER:
            if name in values:
                ET.SubElement(person, f"{{{NAMESPACE_14}}}{name}").text = values[name]
        note_values = {
            "note_record_id": f"{domain}/note.{record.record_id}",
            "person_record_id": values["person_record_id"],
            "entry_date": values["entry_date"],
            "author_name": record.society,
            "source_date": values["source_date"],
            "status": record.status,
        }
        note = ET.SubElement(person, f"{{{NAMESPACE_14}}}note")
        for name in NOTE_ORDER:
            ET.SubElement(note, f"{{{NAMESPACE_14}}}{name}").text = note_values[name]
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
