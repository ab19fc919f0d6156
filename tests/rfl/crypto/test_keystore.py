"""The database key store keeps the privacy engine's key-store contract, and rotation works over it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask

from privacy import FieldVault, LocalKeyProvider, Subject, retire_kek, rewrap_deks
from privacy.testing import check_key_store_contract
from rfl.crypto.keystore import DatabaseKeyStore
from rfl.db import db


def test_database_key_store_keeps_the_contract(app: Flask) -> None:
    with app.app_context(), db.transaction() as session:
        check_key_store_contract(DatabaseKeyStore(session))


def test_kek_rotation_and_retirement_over_the_database(app: Flask) -> None:
    provider = LocalKeyProvider.in_memory(["ring"])
    subject = Subject("ring", "person-1")
    with app.app_context(), db.transaction() as session:
        store = DatabaseKeyStore(session)
        vault = FieldVault(provider, store)
        token = vault.encrypt(subject, "sightings", "person_given_name", "row-1", "Selam")
        old = provider.active_kek_version("ring")
        provider.rotate_kek("ring")

        report = rewrap_deks(store, provider, "ring")
        retire_kek(store, provider, "ring", old)

        assert report.rewrapped == 1
        fresh = FieldVault(provider, store)  # no cached key: the DEK is unwrapped with the new KEK
        assert fresh.decrypt(subject, "sightings", "person_given_name", "row-1", token) == "Selam"


def test_prefetched_keys_cost_one_query_and_a_key_changed_meanwhile_is_read_again(app: Flask) -> None:
    provider = LocalKeyProvider.in_memory(["ring"])
    people = [Subject("ring", f"person-{i}") for i in range(5)]
    statements: list[str] = []

    def count(*execution: object) -> None:  # (connection, cursor, statement, ...)
        statements.append(str(execution[2]))

    with app.app_context(), db.transaction() as session:
        store = DatabaseKeyStore(session)
        for person in people:
            FieldVault(provider, store).ensure_subject_key(person)
        engine = session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            with store.prefetched(people):
                loaded = [store.load(p.ring_id, p.subject_id, 1) for p in people]
                read_for_all = len(statements)
                store.mark_destroyed("ring", "person-0", datetime.now(UTC))
                destroyed = store.load("ring", "person-0", 1)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)

    assert read_for_all == 1
    assert all(key is not None and not key.destroyed for key in loaded)
    assert destroyed is not None
    assert destroyed.destroyed  # not the key as the block read it
