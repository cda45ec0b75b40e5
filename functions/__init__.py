"""duetime: delayed and scheduled HTTP delivery, wire-compatible with QStash v2."""
