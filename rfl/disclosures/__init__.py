"""Disclosures to families: decided by the consent policy, recorded whatever the outcome."""
