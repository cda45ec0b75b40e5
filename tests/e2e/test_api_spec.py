"""schemathesis against the spec the dev server serves: no 5xx, and every status documented.

A dedicated `duetime dev` (the cases turn kill switches on and cancel in bulk, which would
upset the shared server), delivering only to 127.0.0.1: whatever destinations are generated,
nothing is resolved or sent beyond loopback. The seed is fixed so CI is repeatable; run
`st run http://127.0.0.1:8080/openapi.yaml ...` with another seed to explore further.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import DevProcess, start_dev, stop_dev

pytestmark = pytest.mark.e2e

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "unsupported_method",
    ]
)
# Not allow_header_conformance: the spec's templates overlap (/v2/dlq/retry is also
# /v2/dlq/{dlq_id}), so Allow rightly names the methods of both.
MAX_EXAMPLES = 40
SEED = 20261201
SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
OPERATIONS = sum(
    method in {"get", "put", "post", "patch", "delete"}
    for item in yaml.safe_load(SPEC.read_text())["paths"].values()
    for method in item
)


@pytest.fixture(scope="module")
def spec_server() -> Iterator[DevProcess]:
    process, info = start_dev("--quiet", "--allowed-hosts", "127.0.0.1")
    yield info
    stop_dev(process)


def test_the_served_spec_is_the_documented_one(spec_server: DevProcess) -> None:
    served = httpx.get(f"{spec_server.url}/openapi.yaml", timeout=10)
    assert served.status_code == 200
    assert served.content == SPEC.read_bytes()


def test_schemathesis_finds_no_5xx_and_no_undocumented_status(
    spec_server: DevProcess, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{spec_server.url}/openapi.yaml",
        "--header",
        f"Authorization: Bearer {spec_server.token}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--workers",
        "2",
    ]
    # No --max-time: with one, fuzzing repeats until the budget is spent. The run takes about
    # 30 s on 2 cores; the timeout only bounds CI if something hangs.
    done = subprocess.run(  # noqa: S603 - schemathesis from this venv, fixed arguments
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", output)
    print(output[-3000:])  # the summary, with the case counts, in the test's captured output
    assert done.returncode == 0, output[-20000:]
    assert generated is not None, output[-3000:]
    # Every operation was exercised, each with more than a handful of cases.
    assert f"Tested: {OPERATIONS}" in output, output[-3000:]
    assert int(generated.group(1)) >= OPERATIONS * 10, output[-3000:]
