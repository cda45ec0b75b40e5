"""Run the real `duetime dev` command, as a user would, and talk to it over HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class DevProcess:
    url: str
    token: str
    current_key: str
    next_key: str
    webhook_secret: str
    output: list[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_dev(*args: str, log_level: str = "WARNING") -> tuple[subprocess.Popen[str], DevProcess]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "duetime.cli", "dev", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": log_level},
    )
    assert process.stdout is not None
    banner: dict[str, str] = {}
    output: list[str] = []
    for line in process.stdout:
        output.append(line)
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.isupper():
            banner[key] = value
        if "DUETIME_WEBHOOK_SECRET" in banner:
            break
    else:
        raise RuntimeError("duetime dev exited early:\n" + "".join(output))

    def drain() -> None:  # keep reading so the server never blocks on a full pipe
        assert process.stdout is not None
        output.extend(process.stdout)  # appends line by line as the server writes

    threading.Thread(target=drain, daemon=True).start()
    return process, DevProcess(
        url=banner["QSTASH_URL"],
        token=banner["QSTASH_TOKEN"],
        current_key=banner["QSTASH_CURRENT_SIGNING_KEY"],
        next_key=banner["QSTASH_NEXT_SIGNING_KEY"],
        webhook_secret=banner["DUETIME_WEBHOOK_SECRET"],
        output=output,
    )


def stop_dev(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def dev() -> Iterator[DevProcess]:
    yield from serving("embedded")


ENGINES = ("embedded", "aws-emulation")


def serving(engine: str, *, log_level: str = "WARNING") -> Iterator[DevProcess]:
    """`duetime dev` on one engine for as long as the generator runs (a fixture's body)."""
    process, info = start_dev(
        *(["--aws-emulation"] if engine == "aws-emulation" else []), log_level=log_level
    )
    yield info
    stop_dev(process)


@pytest.fixture(scope="session")
def dev_aws() -> Iterator[DevProcess]:
    """`duetime dev --aws-emulation`: the AWS adapters on moto, behind the same HTTP API."""
    yield from serving("aws-emulation")


@pytest.fixture(params=ENGINES)
def either_dev(request: pytest.FixtureRequest) -> DevProcess:
    """Each test taking it runs on both engines."""
    server: DevProcess = request.getfixturevalue(
        "dev" if request.param == "embedded" else "dev_aws"
    )
    return server


@pytest.fixture(params=ENGINES)
def fresh_dev(request: pytest.FixtureRequest) -> Iterator[DevProcess]:
    """A server of its own, on each engine, for tests that change server-wide state (keys,
    everything in the DLQ) which the shared servers' other tests rely on."""
    yield from serving(request.param)


JS_DIR = Path(__file__).parent / "js"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/e2e/js installed from its lockfile (@upstash/qstash), for tests that run node."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip(reason="node and npm are needed to run the JS SDK (the README lists node)")
    if not (JS_DIR / "node_modules" / "@upstash" / "qstash").exists():
        subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments, the lockfile pins versions
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS_DIR, check=True
        )
    return JS_DIR / "node_modules"
