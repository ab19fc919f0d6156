"""Idempotency keys of creating requests (api.md: a retry within 24 h returns the first result)."""
