from __future__ import annotations

import pytest

from privacy import FieldVault, KeyCache, LocalKeyProvider, Subject
from privacy.testing import InMemoryKeyStore

RINGS = ("IT", "GR")


class FakeClock:
    """Monotonic seconds that tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def provider() -> LocalKeyProvider:
    return LocalKeyProvider.in_memory(RINGS)


@pytest.fixture
def store() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vault(provider: LocalKeyProvider, store: InMemoryKeyStore, clock: FakeClock) -> FieldVault:
    return FieldVault(provider, store, cache=KeyCache(ttl_seconds=60, clock=clock))


@pytest.fixture
def make_vault(provider: LocalKeyProvider, store: InMemoryKeyStore, clock: FakeClock):
    """Another process of the same application: same keys and database, its own cache."""

    def make() -> FieldVault:
        return FieldVault(provider, store, cache=KeyCache(ttl_seconds=60, clock=clock))

    return make


@pytest.fixture
def alice() -> Subject:
    return Subject("IT", "subject-alice")


@pytest.fixture
def bob() -> Subject:
    return Subject("IT", "subject-bob")
