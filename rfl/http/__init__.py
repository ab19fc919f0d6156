"""The HTTP edge: conventions of docs/api.md implemented once for every area."""
