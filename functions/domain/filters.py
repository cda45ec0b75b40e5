"""How a bulk operation's filters match: each field that is set holds the values any of which
may match, and a field left empty matches everything. Pure."""

from __future__ import annotations


def any_of(wanted: tuple[object, ...], value: object) -> bool:
    return not wanted or value in wanted
