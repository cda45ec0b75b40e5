"""duetime's own Python surface: the operator CLI, a typed client for duetime's extensions to
QStash v2, and a pytest fixture with a controllable clock (`duetime.testing`)."""
