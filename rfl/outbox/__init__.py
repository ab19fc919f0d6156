"""The transactional outbox: work that must follow a committed change, recorded in that change's own
transaction, so a crash can delay it but never lose it."""
