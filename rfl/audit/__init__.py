"""The tamper-evident audit log: every read of personal data and every change."""
