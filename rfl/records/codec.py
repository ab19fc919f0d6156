"""Encrypting a record's document into its ciphertext columns and back, through the privacy engine."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from privacy import FieldValue, FieldVault, Subject
from rfl.records.fields import Group, Kind, SubjectRole


def subjects_of(
    society_id: uuid.UUID, subject_ids: Mapping[SubjectRole, uuid.UUID]
) -> dict[SubjectRole, Subject]:
    """Each person's data key is wrapped under the owning society's key ring."""
    return {role: Subject(ring_id=str(society_id), subject_id=str(sid)) for role, sid in subject_ids.items()}


def to_stored(value: Any, kind: Kind) -> FieldValue | None:
    if value is None:
        return None
    if kind is Kind.LIST:
        return [str(item) for item in value]
    if kind is Kind.BOOL:
        return "true" if value else "false"
    return str(value)


def from_stored(value: FieldValue | None, kind: Kind) -> Any:
    if value is None:
        return None
    if kind is Kind.BOOL:
        return value == "true"
    if kind is Kind.AGE and isinstance(value, str) and value.isdigit():
        return int(value)
    if kind is Kind.LIST:
        return list(value)  # type: ignore[arg-type]
    return value


def group_values(document: Mapping[str, Any], group: Group) -> dict[str, Any]:
    source = document if group.key is None else (document.get(group.key) or {})
    return {name: source.get(name) for name, _ in group.fields}


class RecordCodec:
    """Encrypts and decrypts the personal fields of one record type."""

    def __init__(self, vault: FieldVault, table: str, groups: tuple[Group, ...]) -> None:
        self._vault = vault
        self._table = table
        self._groups = groups

    def encrypt(
        self,
        record: Any,
        subjects: Mapping[SubjectRole, Subject],
        document: Mapping[str, Any],
        only_columns: Iterable[str] | None = None,
    ) -> None:
        """Set the ciphertext columns of ``record`` from ``document`` (all, or ``only_columns``)."""
        wanted = None if only_columns is None else set(only_columns)
        for group in self._groups:
            values = group_values(document, group)
            plain = {
                group.column(name): to_stored(values[name], kind)
                for name, kind in group.fields
                if wanted is None or group.column(name) in wanted
            }
            if not plain:
                continue
            sealed = self._vault.encrypt_fields(subjects[group.subject], self._table, str(record.id), plain)
            for column, token in sealed.items():
                setattr(record, column, token)

    def decrypt(
        self,
        record: Any,
        subjects: Mapping[SubjectRole, Subject],
        groups: Iterable[str | None] | None = None,
        fields: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """The document of ``record``, or only of the named groups, or only the named fields within them
        (only what is asked for is decrypted); any failure raises DecryptionError."""
        wanted = None if groups is None else set(groups)
        wanted_fields = None if fields is None else frozenset(fields)
        document: dict[str, Any] = {}
        for group in self._groups:
            if wanted is not None and group.key not in wanted:
                continue
            chosen = _chosen(group, wanted_fields)
            tokens = {column: getattr(record, column) for _, _, column in chosen}
            plain = self._vault.decrypt_fields(subjects[group.subject], self._table, str(record.id), tokens)
            values = {name: from_stored(plain[column], kind) for name, kind, column in chosen}
            present = {name: value for name, value in values.items() if value is not None}
            if group.key is None:
                document.update(present)
            else:
                document[group.key] = present
        return document


@functools.lru_cache(maxsize=256)  # a few groups, each asked for all its fields or a few sets of them
def _chosen(group: Group, fields: frozenset[str] | None) -> tuple[tuple[str, Kind, str], ...]:
    """The group's fields that ``fields`` names (all when None), with their columns: a search decrypts
    the names of up to 200 records, and choosing them anew among a person's 20 fields was a tenth of
    it."""
    return tuple(
        (name, kind, group.column(name)) for name, kind in group.fields if fields is None or name in fields
    )
