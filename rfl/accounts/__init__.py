"""Organisations, users, authentication."""
