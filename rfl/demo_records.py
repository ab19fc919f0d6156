"""Demo tracing requests and sightings with the name variation real cases have.

Families in Germany and Sweden ask for relatives; Italy and Greece registered people at landing sites.
Most sought persons were registered somewhere, spelled another way: another transliteration, Arabic,
Ge'ez or Cyrillic script, swapped name order, an estimated age instead of a birth date. Created through
the record services, exactly like data entered over the API.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rfl.audit.entries import AuditSink
from rfl.crypto import Crypto
from rfl.identity import Actor
from rfl.records import services
from rfl.records.schemas import SightingInputSchema, TracingRequestInputSchema

# Demo documents are validated exactly as the API validates what clients send.
_REQUEST_SCHEMA = TracingRequestInputSchema()
_SIGHTING_SCHEMA = SightingInputSchema()

# (variants of one given name: Latin spellings first, then other scripts)
GIVEN_NAMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "SY": (
        ("Mohammed", "Muhammad", "Mohamed", "محمد"),
        ("Ahmad", "Ahmed", "أحمد"),
        ("Abdulrahman", "Abd al-Rahman", "Abdel Rahman", "عبد الرحمن"),
        ("Yusuf", "Youssef", "يوسف"),
        ("Khalid", "Khaled", "Chaled", "خالد"),
        ("Omar", "Umar", "عمر"),
        ("Fatima", "Fatma", "فاطمة"),
        ("Aisha", "Aicha", "عائشة"),
    ),
    "ER": (
        ("Tesfaye", "Tesfay", "ተስፋይ"),
        ("Yonas", "Yohannes", "ዮናስ"),
        ("Selam", "Selamawit", "ሰላም"),
        ("Mebrahtu", "Mibrahtu", "መብራህቱ"),
        ("Kidane", "Kidan", "ኪዳነ"),
    ),
    "AF": (
        ("Ahmad Shah", "Ahmadshah"),
        ("Zahra", "Zohra", "زهرا"),
        ("Gul", "Gol"),
        ("Mohammad Nabi", "Nabi"),
    ),
    "UA": (
        ("Oleksandr", "Aleksandr", "Alexander", "Олександр"),
        ("Olena", "Elena", "Олена"),
        ("Andriy", "Andrei"),
    ),
    "SO": (
        ("Abdi", "Cabdi"),
        ("Hassan", "Xasan"),
        ("Mohamed", "Maxamed"),
        ("Ali", "Cali"),
        ("Hodan", "Xoodan"),
    ),
}
FAMILY_NAMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "SY": (
        ("Al-Hassan", "Alhassan", "El Hassan", "الحسن"),
        ("Haddad", "Hadad", "حداد"),
        ("Al-Khatib", "Khatib", "الخطيب"),
        ("Saleh", "Salih", "صالح"),
        ("Nasser", "Nasir", "ناصر"),
    ),
    "ER": (
        ("Haile", "Hayle", "ሃይለ"),
        ("Berhane", "Berhe", "በርሀ"),
        ("Gebremariam", "Gebre Mariam"),
        ("Tekle", "Tekla"),
    ),
    "AF": (("Rahimi", "Rahimy", "رحیمی"), ("Karimi", "Karimy", "کریمی"), ("Hosseini", "Husaini", "حسینی")),
    "UA": (
        ("Kovalenko", "Kowalenko", "Коваленко"),
        ("Shevchenko", "Schewtschenko", "Шевченко"),
        ("Bondar", "Бондар"),
    ),
    "SO": (("Warsame", "Warsama"), ("Abdullahi", "Cabdullaahi"), ("Farah", "Faarax")),
}
LANDING_SITES = {"IT": ("Lampedusa", "Pozzallo", "Crotone"), "GR": ("Lesbos", "Samos", "Kos")}
FAMILY_HOMES = {"DE": ("Berlin", "Hamburg", "München"), "SE": ("Malmö", "Göteborg")}
RELATIONSHIPS = ("mother", "father", "brother", "sister", "spouse", "son", "daughter")


@dataclass(frozen=True)
class Person:
    nationality: str
    given: tuple[str, ...]
    family: tuple[str, ...]
    father: tuple[str, ...]
    sex: str
    birth_year: int


def _person(rng: random.Random) -> Person:
    nationality = rng.choice(sorted(GIVEN_NAMES))
    given = rng.choice(GIVEN_NAMES[nationality])
    return Person(
        nationality=nationality,
        given=given,
        family=rng.choice(FAMILY_NAMES[nationality]),
        father=rng.choice(GIVEN_NAMES[nationality]),
        sex="F" if given[0] in ("Fatima", "Aisha", "Selam", "Zahra", "Olena", "Hodan") else "M",
        birth_year=rng.randint(1960, 2012),
    )


def _tracing_request(rng: random.Random, person: Person, home: str) -> dict[str, Any]:
    return {
        "sought_person": {
            "given_name": person.given[0],
            "family_name": person.family[0],
            "sex": person.sex,
            "birth_date": f"{person.birth_year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "nationality": person.nationality,
            "father_name": person.father[0],
        },
        "enquirer": {
            "full_name": f"{rng.choice(person.father)[:1]}. {person.family[0]}",
            "relationship": rng.choice(RELATIONSHIPS),
            "address": home,
            "shares_identity_with_sought_person": rng.random() < 0.8,
        },
        "separation": {"date": str(rng.randint(2021, 2025)), "circumstances": "separated on the route"},
        "legal_basis": "vital_interest",
    }


def _sighting(rng: random.Random, person: Person, site: str, country: str) -> dict[str, Any]:
    given, family = rng.choice(person.given), rng.choice(person.family)
    body: dict[str, Any] = {"sex": person.sex, "nationality": person.nationality}
    if rng.random() < 0.3:  # name order swapped in one field
        body["full_name"] = f"{family} {given}"
    else:
        body["given_name"], body["family_name"] = given, family
    if rng.random() < 0.5:
        body["father_name"] = rng.choice(person.father)
    age = 2025 - person.birth_year
    if rng.random() < 0.5:
        body["age"] = f"{max(0, age - 3)}-{age + 3}"  # estimated
    else:
        body["birth_date"] = str(person.birth_year)
    condition = rng.choices(("alive", "detained", "hospitalised", "deceased"), (80, 8, 8, 4))[0]
    return {
        "person": body,
        "registration": {
            "date": f"2025-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
            "place": site,
            "country": country,
        },
        "condition": condition,
        "whereabouts": {"current_place": f"Reception centre, {site}"},
        "seeking_family": rng.random() < 0.6,
        "restrictions": {"no_cross_border": rng.random() < 0.03, "exclude": []},
        "legal_basis": "vital_interest",
    }


def seed_demo_records(
    session: Any,
    crypto: Crypto,
    *,
    families: Sequence[Actor],
    registrars: Sequence[Actor],
    now: datetime,
    audit: AuditSink,
    requests: int = 200,
    seed: int = 2026,
) -> tuple[int, int]:
    """Create ``requests`` tracing requests and about 1.5 times as many sightings; returns both counts."""
    rng = random.Random(seed)  # noqa: S311 (reproducible demo data, not a secret)  # nosec B311
    sighting_count = 0
    for _ in range(requests):
        person = _person(rng)
        family = rng.choice(families)
        home = rng.choice(FAMILY_HOMES.get(family.society_code, ("Geneva",)))
        services.create_record(
            session,
            crypto,
            family,
            services.TRACING_REQUESTS,
            _REQUEST_SCHEMA.load(_tracing_request(rng, person, home)),
            now=now,
            audit=audit,
        )
        for _ in range(rng.choices((0, 1, 2), (30, 60, 10))[0]):
            registrar = rng.choice(registrars)
            site = rng.choice(LANDING_SITES.get(registrar.society_code, ("Geneva",)))
            services.create_record(
                session,
                crypto,
                registrar,
                services.SIGHTINGS,
                _SIGHTING_SCHEMA.load(_sighting(rng, person, site, registrar.society_code)),
                now=now,
                audit=audit,
            )
            sighting_count += 1
    for _ in range(requests // 2):  # people nobody has asked for (yet)
        registrar = rng.choice(registrars)
        site = rng.choice(LANDING_SITES.get(registrar.society_code, ("Geneva",)))
        services.create_record(
            session,
            crypto,
            registrar,
            services.SIGHTINGS,
            _SIGHTING_SCHEMA.load(_sighting(rng, _person(rng), site, registrar.society_code)),
            now=now,
            audit=audit,
        )
        sighting_count += 1
    return requests, sighting_count
