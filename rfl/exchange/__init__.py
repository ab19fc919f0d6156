"""Data exchange: PFIF 1.1-1.4 and CSV lists in (validated, idempotent, hardened against hostile files),
and what a society may share out (its own tracing requests, sightings consented for partners)."""
