"""PFIF 1.1-1.4 read into record documents; hostile and broken XML refused before anything is expanded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rfl.errors import ValidationFailed
from rfl.exchange import pfif
from tests.rfl.exchange import samples


def read(data: bytes) -> tuple[dict[str, Any], list[pfif.Problem]]:
    records, problems = pfif.documents(pfif.parse(data), "vital_interest")
    return {record.source_id: (record.kind, record.document) for record in records}, problems


def test_pfif_11_old_names_and_found_make_a_sighting() -> None:
    records, problems = read(samples.PFIF_11)

    kind, document = records["haiti.example.org/person.11"]
    assert problems == []
    assert kind == "sighting"
    # first_name/last_name are given_name/family_name; found=true is a sighting of a living person,
    assert document["person"] == {"given_name": "Jean", "family_name": "Baptiste"}
    assert document["condition"] == "alive"
    # registered on the note's date, found where the note says (whereabouts, encrypted like any)
    assert document["registration"] == {"date": "2010-01-17"}
    assert document["whereabouts"] == {"current_place": "Clinic Saint-Michel, ward 3"}
    assert document["legal_basis"] == "vital_interest"


def test_pfif_12_top_level_note_sex_birth_and_age_make_a_tracing_request() -> None:
    records, _ = read(samples.PFIF_12)

    kind, document = records["quake.example.org/p-12"]
    assert kind == "tracing_request"
    assert document["sought_person"] == {
        "given_name": "Ana",
        "family_name": "Lima",
        "sex": "F",
        "birth_date": "1984-05",
        "age": "25-30",
    }
    assert document["enquirer"] == {"full_name": "Rosa Lima", "email": "rosa@example.org"}
    assert document["separation"] == {"last_known_place": "Concepcion bus station"}


def test_pfif_13_full_name_and_believed_dead() -> None:
    records, _ = read(samples.PFIF_13)

    kind, document = records["flood.example.org/13"]
    assert kind == "sighting"
    assert document["condition"] == "deceased"
    assert document["person"] == {
        "full_name": "Kenji Sato",
        "given_name": "Kenji",
        "family_name": "Sato",
        "sex": "M",
        "age": 61,
    }


def test_pfif_14_names_alternates_description_and_the_latest_note_decides() -> None:
    records, _ = read(samples.PFIF_14)

    kind, missing = records["registry.example.org/person.1401"]
    assert kind == "tracing_request"  # believed_missing, like information_sought
    assert missing["sought_person"]["alternate_names"] == ["Tesfay Gebremedhin", "ተስፋይ ገብረመድህን"]
    assert missing["separation"] == {"circumstances": "Left Khartoum in 2022"}
    kind, found = records["registry.example.org/person.1402"]
    assert kind == "sighting"  # sought first, then reported alive: the later note wins
    assert found["person"]["sex"] == "U"
    assert found["registration"] == {"date": "2023-06-02"}
    assert found["whereabouts"] == {"phone": "+30 210 555 0100"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("first_name", "given_name"),
        ("last_name", "family_name"),
        ("other", "description"),
        ("found", "author_made_contact"),
        ("home_zip", "home_postal_code"),
    ],
)
def test_every_renamed_field_maps_to_its_14_name(old: str, new: str) -> None:
    document = (
        '<pfif xmlns="http://zesty.ca/pfif/1.1"><person><person_record_id>a.org/1</person_record_id>'
        f"<{old}>value</{old}><note><{old}>value</{old}></note></person></pfif>"
    ).encode()

    (person,) = pfif.parse(document)

    assert person.fields[new] == "value"
    assert person.notes[0].fields[new] == "value"
    assert old not in person.fields


def test_a_document_without_namespace_is_read_too() -> None:
    unprefixed = samples.PFIF_13.replace(b"pfif:", b"").replace(b'xmlns:pfif="http://zesty.ca/pfif/1.3"', b"")

    assert read(unprefixed)[0].keys() == {"flood.example.org/13"}


def test_persons_without_a_deciding_note_or_a_source_id_are_reported() -> None:
    document = b"""<pfif xmlns="http://zesty.ca/pfif/1.4">
      <person><person_record_id>a.org/1</person_record_id><full_name>A</full_name></person>
      <person><full_name>B</full_name><note><status>believed_alive</status></note></person>
    </pfif>"""

    records, problems = read(document)

    assert records == {}
    assert [(p.position, p.field) for p in problems] == [(1, "note.status"), (2, "person_record_id")]


@pytest.mark.parametrize(
    "document",
    [samples.BILLION_LAUGHS, samples.WITH_DTD, samples.external_entity("/etc/passwd")],
    ids=["billion-laughs", "dtd", "external-entity"],
)
def test_dtds_and_entities_are_refused_unexpanded(document: bytes, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as refused:
        pfif.parse(document)

    assert "refused unread" in refused.value.errors["file"][0]


def test_an_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRETCONTENT")

    with pytest.raises(ValidationFailed) as refused:
        pfif.parse(samples.external_entity(str(secret)))

    assert "SECRETCONTENT" not in str(refused.value.errors) + refused.value.detail


def test_malformed_xml_says_where() -> None:
    with pytest.raises(ValidationFailed) as refused:
        pfif.parse(samples.MALFORMED)

    assert refused.value.errors["file"] == ["it is not well-formed XML (line 3, column 73)."]


def test_a_wrong_namespace_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        pfif.parse(samples.WRONG_NAMESPACE)

    assert "not in a PFIF namespace" in refused.value.errors["file"][0]
