"""Start and stop the processes under test: redis-server, Quirrel's server, `duetime dev`.

Every start has a deadline and every stop escalates from SIGTERM to SIGKILL, so a wedged
server can never hang the benchmark. Only 127.0.0.1 is ever bound or contacted.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[2]
QUIRREL_DIR = REPO / "bench" / "quirrel"
QUIRREL_MAIN = QUIRREL_DIR / "node_modules" / "quirrel" / "dist" / "cjs" / "src" / "api" / "main.js"
QUIRREL_INSTALL = "npm ci --prefix bench/quirrel"


class StartError(RuntimeError):
    """A server could not be started; the message says why (printed as SKIPPED)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: subprocess.Popen[str] | None, grace: float = 15.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@dataclass
class Redis:
    port: int
    process: subprocess.Popen[str]


def start_redis(workdir: Path, timeout: float = 20.0) -> Redis:
    binary = shutil.which("redis-server")
    if binary is None:
        raise StartError("redis-server not found (apt-get update && apt-get install redis-server)")
    port = free_port()
    log = workdir / f"redis-{port}.log"
    # No persistence at all: an in-memory Redis like a cache node, in its own directory.
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(workdir), "--logfile", str(log), "--daemonize", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, text=True)  # noqa: S603
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"redis-server exited with {process.returncode}: {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return Redis(port=port, process=process)
        time.sleep(0.05)
    stop(process)
    raise StartError(f"redis-server did not answer PING within {timeout:.0f} s")


@dataclass
class Quirrel:
    url: str
    passphrase: str
    process: subprocess.Popen[str]
    log: Path

    def token(self, name: str) -> str:
        """Issue a token: PUT /tokens/{name} with basic auth (any user, a passphrase)."""
        response = httpx.put(
            f"{self.url}/tokens/{name}", auth=("bench", self.passphrase), timeout=30
        )
        if response.status_code != 201:
            raise StartError(f"quirrel token: {response.status_code} {response.text}")
        return response.text.strip()


def start_quirrel(
    redis: Redis, workdir: Path, log_level: str = "warn", timeout: float = 60.0
) -> Quirrel:
    node = shutil.which("node")
    if node is None:
        raise StartError("node not found (Quirrel needs Node.js 14-20)")
    if not QUIRREL_MAIN.exists():
        raise StartError(f"quirrel is not installed: run `{QUIRREL_INSTALL}`")
    port = free_port()
    passphrase = secrets.token_hex(16)
    env = {
        **os.environ,
        # What `quirrel` in production reads (dist/cjs/src/api/main.js). REDIS_URL set means a
        # real Redis; unset would mean ioredis-mock, i.e. the in-memory dev mode.
        "REDIS_URL": f"redis://127.0.0.1:{redis.port}",
        "PASSPHRASES": passphrase,  # enables token auth; tokens are issued with it
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "NODE_ENV": "production",
        # Telemetry, Sentry and usage pings would leave 127.0.0.1: all off.
        "DISABLE_TELEMETRY": "1",
        "DD_TRACE_ENABLED": "false",
        # The structured (pino) logger defaults to "trace": a JSON line per request and job.
        "LOG_LEVEL": log_level,
    }
    log = workdir / f"quirrel-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [node, str(QUIRREL_MAIN)],
            cwd=QUIRREL_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"quirrel exited with {process.returncode}: {_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).json().get("redis") == "up":
                return Quirrel(url=url, passphrase=passphrase, process=process, log=log)
        time.sleep(0.2)
    stop(process)
    raise StartError(f"quirrel did not report healthy within {timeout:.0f} s: {_tail(log)}")


@dataclass
class Duetime:
    url: str
    token: str
    process: subprocess.Popen[str]
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=200))

    def tail(self) -> str:
        for _ in range(5):  # the drain thread may append while we copy
            with contextlib.suppress(RuntimeError):
                return "".join(list(self.output)[-40:])
        return ""


def _default_token() -> str:
    # Imported only as a fallback: functions/ is being rewritten and may move things around.
    from functions.local.defaults import DEV_TOKEN  # noqa: PLC0415

    return DEV_TOKEN


def _banner_line(line: str) -> tuple[str, str]:
    """("QSTASH_URL", "http://...") from `QSTASH_URL=...` or `export QSTASH_URL=...`, else ("", "").

    Like tests/e2e/conftest.py, but tolerant of the shell-`export` form the rewrite prints.
    """
    text = line.strip().removeprefix("export ").strip()
    key, sep, value = text.partition("=")
    if sep and key.isupper() and key.replace("_", "").isalnum():
        return key, value.strip().strip("'\"")
    return "", ""


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


_PYTHON = REPO / ".venv" / "bin" / "python"


def duetime_dev_flags(timeout: float = 60.0) -> str:
    """`duetime dev --help`, to see which flags this version of the dev server has."""
    try:
        done = subprocess.run(  # noqa: S603 - our own CLI
            [str(_PYTHON), "-m", "functions.local.cli", "dev", "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def start_duetime(extra_args: list[str], timeout: float = 90.0) -> Duetime:
    python = _PYTHON
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own CLI, the caller's extra arguments
        [str(python), "-m", "functions.local.cli", "dev", "--port", str(port), *extra_args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    # A thread keeps draining stdout for the whole run so the server never blocks on the pipe.
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    output: collections.deque[str] = collections.deque(maxlen=200)
    banner: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while not {"QSTASH_URL", "QSTASH_TOKEN"} <= banner.keys():
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            stop(process)
            raise StartError(
                f"duetime dev printed no banner within {timeout:.0f} s:\n" + "".join(output)
            ) from None
        if line is None:
            process.wait(10)
            raise StartError(f"duetime dev exited ({process.returncode}):\n" + "".join(output))
        output.append(line)
        key, value = _banner_line(line)
        if key:
            banner[key] = value
        if "QSTASH_URL" in banner and "DUETIME_WEBHOOK_SECRET" in banner:
            break  # a banner without a token line: fall back to the default dev token

    def keep_tail() -> None:
        while (line := lines.get()) is not None:
            output.append(line)

    threading.Thread(target=keep_tail, daemon=True).start()
    token = banner.get("QSTASH_TOKEN") or _default_token()
    return Duetime(url=banner["QSTASH_URL"], token=token, process=process, output=output)
