"""CSV lists: reading a registration list through a column mapping, and writing shared records.

A mapping (JSON) says which record type the rows are, which column holds each field, values common to
every row, and the source domain that makes the rows' ids unique across partners::

    {
      "record_type": "sighting",
      "source_domain": "lampedusa-hotspot.example.org",
      "source_id_column": "Registration no",
      "columns": {"Given name": "person.given_name", "Surname": "person.family_name"},
      "values": {"condition": "alive", "registration.country": "IT"},
      "list_separator": ";"
    }

Without ``source_id_column`` a row's id is a keyed hash of its mapped values, so the same row in the
same list is still recognised when the file comes again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rfl.errors import ValidationFailed
from rfl.exchange.pfif import Incoming, Problem, Shared
from rfl.records.fields import SIGHTING_GROUPS, TRACING_REQUEST_GROUPS, Group, Kind

RECORD_GROUPS: dict[str, tuple[Group, ...]] = {
    "tracing_request": TRACING_REQUEST_GROUPS,
    "sighting": SIGHTING_GROUPS,
}
TRUE = frozenset({"true", "yes", "y", "1"})
FALSE = frozenset({"false", "no", "n", "0"})
MAX_COLUMNS = 200


@dataclass(frozen=True)
class ColumnMapping:
    record_type: str
    source_domain: str
    source_id_column: str | None
    columns: dict[str, str]
    values: dict[str, str]
    list_separator: str

    def as_json(self) -> dict[str, Any]:
        return {
            "record_type": self.record_type,
            "source_domain": self.source_domain,
            "source_id_column": self.source_id_column,
            "columns": self.columns,
            "values": self.values,
            "list_separator": self.list_separator,
        }


def _field_kinds(record_type: str) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for group in RECORD_GROUPS[record_type]:
        for name, kind in group.fields:
            kinds[name if group.key is None else f"{group.key}.{name}"] = kind
    return kinds


def _bad_mapping(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed({f"mapping.{field}": [reason]}, detail="The column mapping cannot be used.")


def column_mapping(raw: Any) -> ColumnMapping:
    """A checked column mapping (field names must be fields of the record type), or ValidationFailed."""
    if not isinstance(raw, Mapping):
        raise _bad_mapping("", "Must be a JSON object.")
    record_type = raw.get("record_type")
    if record_type not in RECORD_GROUPS:
        raise _bad_mapping("record_type", "Must be tracing_request or sighting.")
    domain = raw.get("source_domain")
    if not isinstance(domain, str) or not domain.strip() or "/" in domain:
        raise _bad_mapping("source_domain", "Must name the list's origin, e.g. hotspot.example.org.")
    kinds = _field_kinds(record_type)
    columns = raw.get("columns")
    if not isinstance(columns, Mapping) or not columns or len(columns) > MAX_COLUMNS:
        raise _bad_mapping("columns", f"Must map 1 to {MAX_COLUMNS} column names to field names.")
    values = raw.get("values") or {}
    if not isinstance(values, Mapping):
        raise _bad_mapping("values", "Must map field names to values.")
    for where, entries in (("columns", columns.values()), ("values", values)):
        for target in entries:
            if target not in kinds:
                raise _bad_mapping(where, f"Unknown {record_type} field: {target}.")
    source_column = raw.get("source_id_column")
    if source_column is not None and not isinstance(source_column, str):
        raise _bad_mapping("source_id_column", "Must be a column name.")
    separator = raw.get("list_separator", ";")
    if not isinstance(separator, str) or len(separator) != 1:
        raise _bad_mapping("list_separator", "Must be one character.")
    return ColumnMapping(
        record_type=record_type,
        source_domain=domain.strip(),
        source_id_column=source_column,
        columns={str(column): str(target) for column, target in columns.items()},
        values={str(target): str(value) for target, value in values.items()},
        list_separator=separator,
    )


def _converted(text: str, kind: Kind, separator: str) -> Any:
    if kind is Kind.LIST:
        return [part.strip() for part in text.split(separator) if part.strip()]
    if kind is Kind.BOOL:
        lowered = text.lower()
        return True if lowered in TRUE else False if lowered in FALSE else text
    if kind is Kind.AGE and text.isdigit():
        return int(text)
    return text


def _place(document: dict[str, Any], dotted: str, value: Any) -> None:
    head, _, tail = dotted.partition(".")
    if tail:
        document.setdefault(head, {})[tail] = value
    else:
        document[head] = value


def read_rows(
    data: bytes, mapping: ColumnMapping, legal_basis: str, *, secret_hash: Callable[[str], str]
) -> tuple[list[Incoming], list[Problem]]:
    """Each row as a record document (positions are line numbers; the header is line 1).

    ``secret_hash(text) -> str`` gives a row without a source id its id from its mapped values.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _unreadable("it is not UTF-8 text.") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[Incoming] = []
    problems: list[Problem] = []
    try:
        where, width = _columns(next(reader, None), mapping)
        while True:
            position = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != width:
                problems.append(Problem(position, "row", f"Has {len(row)} cells; the header has {width}."))
                continue
            document = _document(row, where, mapping, legal_basis)
            local = row[where[mapping.source_id_column]].strip() if mapping.source_id_column else None
            if local == "":
                problems.append(Problem(position, str(mapping.source_id_column), "Missing source id."))
                continue
            if local is None:
                local = "row:" + secret_hash(repr(sorted(_flat(document))))
            records.append(
                Incoming(position, f"{mapping.source_domain}/{local}", mapping.record_type, document)
            )
    except csv.Error:
        raise _unreadable(f"it is not valid CSV (near line {reader.line_num}).") from None
    return records, problems


def _unreadable(reason: str) -> ValidationFailed:
    return ValidationFailed({"file": [reason]}, detail=f"The file cannot be imported: {reason}")


def _columns(header: list[str] | None, mapping: ColumnMapping) -> tuple[dict[str, int], int]:
    """Where each column of the header is, and how many there are; ValidationFailed when a mapped
    column is missing."""
    if header is None:
        raise _unreadable("it is empty.")
    names = [name.strip() for name in header]
    missing = [column for column in mapping.columns if column not in names]
    if mapping.source_id_column and mapping.source_id_column not in names:
        missing.append(mapping.source_id_column)
    if missing:
        raise ValidationFailed(
            {"mapping.columns": [f"Not in the file's header: {', '.join(sorted(missing))}."]},
            detail="The file's header lacks columns the mapping names.",
        )
    return {name: index for index, name in enumerate(names)}, len(names)


def _document(
    row: list[str], where: Mapping[str, int], mapping: ColumnMapping, legal_basis: str
) -> dict[str, Any]:
    kinds = _field_kinds(mapping.record_type)
    document: dict[str, Any] = {"legal_basis": legal_basis}
    for target, value in mapping.values.items():
        _place(document, target, _converted(value, kinds[target], mapping.list_separator))
    for column, target in mapping.columns.items():
        cell = row[where[column]].strip()
        if cell:
            _place(document, target, _converted(cell, kinds[target], mapping.list_separator))
    return document


def _flat(document: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, str]]:
    for key, value in document.items():
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", repr(value)


# --- writing --------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "record_id",
    "record_type",
    "society",
    "status",
    "full_name",
    "given_name",
    "family_name",
    "alternate_names",
    "sex",
    "birth_date",
    "age",
    "birth_place",
    "nationality",
    "father_name",
    "mother_name",
    "languages",
    "created_at",
    "expiry_date",
)
EXPORTED_PERSON_FIELDS = tuple(EXPORT_COLUMNS[4:16])


def write(records: Iterable[Shared], domain: str) -> str:
    """A CSV of the shared records (identity fields only; lists joined with '; ')."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for record in records:
        person = record.person
        row = [
            f"{domain}/{record.kind}.{record.record_id}",
            record.kind,
            record.society,
            record.status,
        ]
        for name in EXPORTED_PERSON_FIELDS:
            value = person.get(name)
            row.append("; ".join(value) if isinstance(value, list) else "" if value is None else str(value))
        row.append(record.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        row.append(record.expires_on.isoformat() if record.expires_on else "")
        writer.writerow([_neutralised(cell) for cell in row])
    return out.getvalue()


def _neutralised(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
