"""Benchmark of the privacy engine (not a test): run ``python benchmarks/privacy_bench.py``.

It measures the ``privacy`` package of the checkout it sits in (not an installed copy).

Measures, on a typical record of 15 short fields, field encryption and decryption, DEK unwraps (cold
and cached) and blind-index values, each also as a ratio to raw AES-GCM on the same data in the same
run. Raw AES-GCM means one pre-built AESGCM object, a fresh 12-byte nonce per field and the same AAD
bytes: the floor any envelope scheme in Python pays. Timings are the best of several repeats (the
machine is shared).

Target (issue 3): encrypt and decrypt one record with cached DEK and field keys in at most 150 us.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's privacy, not an installed one

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import privacy
from privacy import (
    BlindIndexer,
    BlindIndexSpec,
    FieldValue,
    FieldVault,
    KeyCache,
    LocalKeyProvider,
    Subject,
    year_band,
)
from privacy.fields import encode_value, field_aad
from privacy.keys import wrap_aad
from privacy.testing import InMemoryKeyStore

TABLE = "sightings"
ROW = "3f2c0a4e-1b7d-4e8a-9c61-0d5b2f7a9e10"
RECORD: dict[str, FieldValue | None] = {
    "family_name": "Haile",
    "given_names": "Tesfay",
    "other_names": ["Tesfaye", "Tesfay H."],
    "original_script_name": "ተስፋይ ሃይለ",
    "sex": "male",
    "date_of_birth": date(1994, 3, 1),
    "place_of_birth": "Asmara",
    "nationality": "ER",
    "father_name": "Haile Gebremedhin",
    "mother_name": "Letemichael",
    "distinguishing_marks": "scar left hand",
    "last_contact_place": "Agadez",
    "whereabouts": "Reception centre 4",
    "contact": "+39 333 1234567",
    "message": "I am safe in Italy",
}


@dataclass
class Row:
    name: str
    count: int  # operations per timed loop
    ours: float  # seconds
    raw: float  # seconds, raw AES-GCM on the same data

    def line(self) -> str:
        return (
            f"{self.name:42} {self.count / self.ours:>12,.0f}/s {self.count / self.raw:>12,.0f}/s "
            f"{self.ours / self.raw:>12.1f}x"
        )


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_fields(vault: FieldVault, n: int, repeats: int) -> tuple[Row, Row]:
    subject = Subject("IT", "subject-0001")
    tokens = vault.encrypt_fields(subject, TABLE, ROW, RECORD)
    if vault.decrypt_fields(subject, TABLE, ROW, tokens) != RECORD:
        raise SystemExit("round trip failed")
    raw = AESGCM(AESGCM.generate_key(bit_length=256))
    plain = [encode_value(v) for v in RECORD.values() if v is not None]
    aads = [field_aad(TABLE, c, ROW, subject.subject_id, 1) for c in RECORD]
    raw_tokens = [
        (nonce := os.urandom(12), raw.encrypt(nonce, p, a)) for p, a in zip(plain, aads, strict=True)
    ]

    def raw_encrypt() -> None:
        for _ in range(n):
            for p, a in zip(plain, aads, strict=True):
                nonce = os.urandom(12)
                raw.encrypt(nonce, p, a)

    def raw_decrypt() -> None:
        for _ in range(n):
            for (nonce, ct), a in zip(raw_tokens, aads, strict=True):
                raw.decrypt(nonce, ct, a)

    def ours_encrypt() -> None:
        for _ in range(n):
            vault.encrypt_fields(subject, TABLE, ROW, RECORD)

    def ours_decrypt() -> None:
        for _ in range(n):
            vault.decrypt_fields(subject, TABLE, ROW, tokens)

    fields = n * len(RECORD)
    return (
        Row(
            "fields encrypted (cached keys)",
            fields,
            best_of(ours_encrypt, repeats),
            best_of(raw_encrypt, repeats),
        ),
        Row(
            "fields decrypted (cached keys)",
            fields,
            best_of(ours_decrypt, repeats),
            best_of(raw_decrypt, repeats),
        ),
    )


def bench_unwraps(
    vault: FieldVault, store: InMemoryKeyStore, n_subjects: int, repeats: int
) -> tuple[Row, Row]:
    """One field of each of many subjects, with a cold cache (unwrap + HKDF + decrypt) and a warm one."""
    subjects = [Subject("IT", f"subject-{i:06d}") for i in range(n_subjects)]
    pairs = [(s, vault.encrypt(s, TABLE, "whereabouts", ROW, "Reception centre 4")) for s in subjects]
    kek = AESGCM(AESGCM.generate_key(bit_length=256))
    raw_wrapped = []
    for s in subjects:
        row = store.load("IT", s.subject_id)
        if row is None:
            raise SystemExit("missing key")
        aad = wrap_aad("IT", row.subject_id, row.dek_version, row.kek_version)
        raw_wrapped.append((row.wrapped[:12], kek.encrypt(row.wrapped[:12], os.urandom(32), aad), aad))

    def cold() -> None:
        vault.cache.clear()
        for s, tok in pairs:
            vault.decrypt(s, TABLE, "whereabouts", ROW, tok)

    def cached() -> None:
        for s, tok in pairs:
            vault.decrypt(s, TABLE, "whereabouts", ROW, tok)

    def raw_unwrap() -> None:
        for nonce, ct, aad in raw_wrapped:
            kek.decrypt(nonce, ct, aad)

    t_cold = best_of(cold, repeats)
    cached()
    t_raw = best_of(raw_unwrap, repeats)
    return (
        Row("DEK unwraps, cold (unwrap+HKDF+1 field)", n_subjects, t_cold, t_raw),
        Row("DEK unwraps, cached (+1 field decrypt)", n_subjects, best_of(cached, repeats), t_raw),
    )


def bench_blind(provider: LocalKeyProvider, rounds: int, repeats: int) -> tuple[Row, Row]:
    """One value per name token and phonetic key of the record, plus name + birth-year band."""
    indexer = BlindIndexer(provider, "IT")
    tokens_spec = BlindIndexSpec("name_token", 1, 18)
    band_spec = BlindIndexSpec("name_token_birth_band", 1, 20)
    terms = ["haile", "tesfay", "tesfaye", "gebremedhin", "letemichael", "HL", "TSF", "TSFY"]
    compound = [(t, year_band(1994)) for t in terms[:3]]
    term_bytes = [t.encode() for t in terms] + [f"{a}|{b}".encode() for a, b in compound]
    raw = AESGCM(AESGCM.generate_key(bit_length=256))
    hmac_key = os.urandom(32)

    def ours() -> None:
        for _ in range(rounds):
            indexer.values(tokens_spec, terms)
            indexer.values(band_spec, compound)

    def raw_aes() -> None:
        for _ in range(rounds):
            for b in term_bytes:
                raw.encrypt(os.urandom(12), b, None)

    def raw_hmac() -> None:
        for _ in range(rounds):
            for b in term_bytes:
                mac = hmac.HMAC(hmac_key, hashes.SHA256())
                mac.update(b)
                mac.finalize()

    count = rounds * len(term_bytes)
    t_ours = best_of(ours, repeats)
    return (
        Row("blind-index values (vs raw AES-GCM)", count, t_ours, best_of(raw_aes, repeats)),
        Row("blind-index values (vs raw HMAC-SHA256)", count, t_ours, best_of(raw_hmac, repeats)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="privacy engine benchmark")
    parser.add_argument("--records", type=int, default=2000, help="records per timed loop")
    parser.add_argument("--subjects", type=int, default=2000, help="subjects for the unwrap measurements")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    provider = LocalKeyProvider.in_memory(["IT"])
    store = InMemoryKeyStore()
    vault = FieldVault(provider, store, cache=KeyCache(max_subjects=args.subjects + 10, ttl_seconds=3600))
    enc, dec = bench_fields(vault, args.records, args.repeats)
    rows = [enc, dec, *bench_unwraps(vault, store, args.subjects, args.repeats)]
    rows += bench_blind(provider, args.records // 4, args.repeats)

    print(
        f"privacy benchmark of {Path(privacy.__file__).parent}: "
        f"{len(RECORD)}-field record, best of {args.repeats} runs"
    )
    print(f"{'measure':42} {'ours':>14} {'raw':>14} {'time ratio':>13}")
    for row in rows:
        print(row.line())
    record_us = (enc.ours + dec.ours) / args.records * 1e6
    raw_us = (enc.raw + dec.raw) / args.records * 1e6
    verdict = "met" if record_us <= 150 else "MISSED"
    print(
        f"\nrecord encrypt+decrypt, cached keys: {record_us:.1f} us; raw AES-GCM {raw_us:.1f} us; "
        f"ratio {record_us / raw_us:.1f}x; target <= 150 us {verdict}"
    )


if __name__ == "__main__":
    main()
