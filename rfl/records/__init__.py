"""Tracing requests and sightings: encrypted records, blind indexes, name search."""
