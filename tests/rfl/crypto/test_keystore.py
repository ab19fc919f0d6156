"""The database key store keeps the privacy engine's key-store contract, and rotation works over it."""

from __future__ import annotations

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
