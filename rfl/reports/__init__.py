"""Monitoring and evaluation reports: figures counted from the records' plain skeleton (ids, societies,
statuses, codes and timestamps), never from decrypted personal data, with small counts suppressed so
that no figure singles out a person."""
