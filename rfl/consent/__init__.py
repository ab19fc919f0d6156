"""Consent of found persons: appended records, sealed terms, encrypted personal details."""
