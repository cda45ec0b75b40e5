"""docs/openapi.yaml documents exactly the routes the API serves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from functions.api import console
from functions.handlers.schedule import app

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def _served() -> set[tuple[str, str]]:
    routes = set()
    for route in app._static_routes + app._dynamic_routes:
        if console.is_public(route.path):
            continue  # the web console's static files (docs/console.md), not the JSON API
        path = route.path.replace("/v2/publish/.+", "/v2/publish/{destination}")
        path = path.replace("/v2/schedules/.+", "/v2/schedules/{destination}")
        path = path.replace("/v2/enqueue/.+", "/v2/enqueue/{queue}/{destination}")
        routes.add((route.method.lower(), re.sub(r"<(\w+)>", r"{\1}", path)))
    return routes


def test_every_served_route_is_documented() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert _served() - documented == set()


def test_every_documented_route_is_served() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    # POST pause/resume are served by the schedules route (they share its path prefix).
    aliases = {
        ("post", "/v2/schedules/{schedule_id}/pause"),
        ("post", "/v2/schedules/{schedule_id}/resume"),
    }
    assert documented - aliases - _served() == set()


def test_every_operation_documents_the_refusals_any_route_can_give() -> None:
    """Every route needs the token (401), sits behind the 10 MB gateway limit (413), and
    reads storage (503); schemathesis (tests/e2e/test_api_spec.py) checks the rest live."""
    spec = yaml.safe_load(SPEC.read_text())
    missing = {
        f"{method.upper()} {path}": sorted({"401", "413", "503"} - set(operation["responses"]))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert {op: codes for op, codes in missing.items() if codes} == {}
