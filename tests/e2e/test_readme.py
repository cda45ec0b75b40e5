"""The README's code blocks, run as written against a real `duetime dev`.

Covered: every fenced block of "## Try it" (the exports, curl, the two Python SDK blocks and
the JS SDK block) and the sh block of "### Flows (a duetime extension)". Out of scope: the
"## Deploy to AWS" blocks, which need AWS credentials and an account (tests/infra checks the
stack they deploy), and the `make dev` / `make test` block at the top, which starts the server
or this very suite.

Nothing here leaves loopback: the README's example destinations (`https://example.com/...`,
`https://sms.example/...`) are swapped for a real local receiver before a block runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
import pytest
from qstash.errors import SignatureError

from tests.e2e.conftest import DevProcess, start_dev, stop_dev
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.e2e
README = Path(__file__).parents[2] / "README.md"

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
EXAMPLE_HOSTS = ("https://example.com", "https://sms.example")


class Blocks(NamedTuple):
    exports: str
    curl: str
    python_publish: str
    python_verify: str
    js: str
    flows: str


def _section(text: str, heading: str, end: str) -> str:
    start = text.index(f"\n{heading}\n")
    return text[start : text.index(f"\n{end}", start + len(heading) + 2)]


def _fenced(section: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(section)]


@pytest.fixture(scope="module")
def blocks() -> Blocks:
    text = README.read_text(encoding="utf-8")
    try_it = _fenced(_section(text, "## Try it", "## What it supports"))
    flows = _fenced(_section(text, "### Flows (a duetime extension)", "## "))
    # If the README gains, loses or reorders a block, this file must learn about it.
    assert [lang for lang, _ in try_it] == ["sh", "sh", "python", "python", "js"], try_it
    assert [lang for lang, _ in flows] == ["sh"], flows
    (_, exports), (_, curl), (_, publish), (_, verify), (_, js) = try_it
    assert exports.startswith("export QSTASH_URL=")
    assert "/v2/publish/" in curl
    assert "publish_json" in publish
    assert "def verify" in verify
    return Blocks(exports, curl, publish, verify, js, flows[0][1])


@pytest.fixture(scope="module")
def server() -> Iterator[DevProcess]:
    """A dev server of this module's own, on a free port (never 8080)."""
    process, info = start_dev()
    yield info
    stop_dev(process)


def _localize(code: str, receiver: Receiver) -> str:
    """The block with its example destinations pointed at the local receiver (paths kept)."""
    assert any(host in code for host in EXAMPLE_HOSTS), code
    for host in EXAMPLE_HOSTS:
        code = code.replace(host, receiver.url(""))
    assert "https://" not in code, code  # nothing may leave loopback
    return code


def _base_env() -> dict[str, str]:
    """This process's environment without anything the export block is meant to provide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QSTASH_", "DUETIME_"))}
    return {**env, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def _bash(server: DevProcess, blocks: Blocks, code: str) -> subprocess.CompletedProcess[str]:
    # The export block runs exactly as written; it hard-codes the default port 8080, and this
    # module's server listens on a free port instead, so QSTASH_URL is overridden right after
    # it. Only the port differs (test_export_block_is_what_dev_prints checks the rest).
    script = f"{blocks.exports}\nexport QSTASH_URL={server.url}\n{code}"
    return subprocess.run(  # noqa: S603 - bash from PATH running the README's own blocks
        [str(shutil.which("bash")), "-e", "-c", script],
        env=_base_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.fixture(scope="module")
def shell_env(server: DevProcess, blocks: Blocks) -> dict[str, str]:
    """The environment a terminal has after pasting the export block (port overridden)."""
    run = _bash(server, blocks, "env -0")
    assert run.returncode == 0, run.stderr
    return dict(entry.split("=", 1) for entry in run.stdout.split("\0") if "=" in entry)


def _api(server: DevProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"})


def _message(server: DevProcess, message_id: str) -> dict[str, Any]:
    with _api(server) as api:
        response = api.get(f"/v2/messages/{message_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_export_block_is_what_dev_prints(
    server: DevProcess, blocks: Blocks, shell_env: dict[str, str]
) -> None:
    printed = [line.strip() for line in server.output if line.startswith("export ")]
    written = blocks.exports.strip().splitlines()
    assert [line.partition("=")[0] for line in written] == [
        line.partition("=")[0] for line in printed
    ]
    # Every value but QSTASH_URL is exactly what the dev server printed...
    assert written[1:] == printed[1:]
    assert shell_env["QSTASH_TOKEN"] == server.token
    assert shell_env["QSTASH_CURRENT_SIGNING_KEY"] == server.current_key
    assert shell_env["QSTASH_NEXT_SIGNING_KEY"] == server.next_key
    assert shell_env["DUETIME_WEBHOOK_SECRET"] == server.webhook_secret
    # ...and QSTASH_URL differs only in the port (the README's is the default, 8080).
    readme_url = urlsplit(written[0].partition("=")[2])
    actual_url = urlsplit(server.url)
    assert readme_url.port == 8080
    assert readme_url._replace(netloc=readme_url.hostname or "") == actual_url._replace(
        netloc=actual_url.hostname or ""
    )
    assert shell_env["QSTASH_URL"] == server.url


def test_curl_block_publishes_and_answers_a_message_id(
    server: DevProcess, blocks: Blocks, receiver: Receiver
) -> None:
    run = _bash(server, blocks, _localize(blocks.curl, receiver))
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(answer) == {"messageId"}
    assert answer["messageId"].startswith("msg_")
    # The prose after it: read it back, then cancel it, with the id it answered.
    message = _message(server, answer["messageId"])
    assert message["url"] == receiver.url("/hooks/offer?id=7")
    with _api(server) as api:
        assert api.delete(f"/v2/messages/{answer['messageId']}").status_code in {200, 202}
    assert _message(server, answer["messageId"])["state"] == "CANCELED"


def test_python_publish_block_prints_the_destination_and_exits_0(
    blocks: Blocks, shell_env: dict[str, str], receiver: Receiver, tmp_path: Path
) -> None:
    script = tmp_path / "publish.py"
    script.write_text(_localize(blocks.python_publish, receiver), encoding="utf-8")
    run = subprocess.run(  # noqa: S603 - the venv's python (this one) running the README block
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=shell_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == receiver.url("/hooks/offer")


def test_python_verify_block_accepts_a_real_delivery_and_rejects_a_tampered_body(
    server: DevProcess,
    blocks: Blocks,
    shell_env: dict[str, str],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a real delivery the dev server made to the receiver
    url = receiver.url("/hooks/offer")
    with _api(server) as api:
        published = api.post(
            f"/v2/publish/{url}",
            content=b'{"offer": "A-1"}',
            headers={"Content-Type": "application/json"},
        )
    assert published.status_code == 201, published.text
    (request,) = receiver.wait_for(1, timeout=10)
    # And the README's verify() in an app whose environment is the export block's
    for name in ("QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"):
        monkeypatch.setenv(name, shell_env[name])
    namespace: dict[str, Any] = {}
    exec(compile(blocks.python_verify, str(README), "exec"), namespace)  # noqa: S102 - README
    verify = namespace["verify"]
    # Then the real signature verifies, and a tampered body does not
    verify(request.headers["Upstash-Signature"], request.body.decode(), url)
    with pytest.raises(SignatureError):
        verify(request.headers["Upstash-Signature"], '{"offer": "B-2"}', url)


def test_js_block_publishes_and_prints_a_message_id(
    server: DevProcess,
    blocks: Blocks,
    shell_env: dict[str, str],
    receiver: Receiver,
    node_modules: Path,
    tmp_path: Path,
) -> None:
    # publish.mjs goes to a temp dir, not tests/e2e/js (only node_modules/ is gitignored); an
    # ES module ignores NODE_PATH, so the committed lockfile's node_modules is symlinked in.
    (tmp_path / "node_modules").symlink_to(node_modules, target_is_directory=True)
    (tmp_path / "publish.mjs").write_text(_localize(blocks.js, receiver), encoding="utf-8")
    run = subprocess.run(  # noqa: S603 - node from PATH running the README block
        [str(shutil.which("node")), "publish.mjs"],
        cwd=tmp_path,
        env=shell_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    message_id = run.stdout.strip()
    assert re.fullmatch(r"msg_\S+", message_id), run.stdout
    assert _message(server, message_id)["url"] == receiver.url("/hooks/offer")
    with _api(server) as api:
        api.delete(f"/v2/messages/{message_id}")


def test_flows_block_starts_the_flow_and_sends_the_first_step(
    server: DevProcess, blocks: Blocks, receiver: Receiver
) -> None:
    run = _bash(server, blocks, _localize(blocks.flows, receiver))
    assert run.returncode == 0, run.stderr
    flow = json.loads(run.stdout)
    assert flow["flowId"] == "session-42"
    assert flow["stateToken"] == "onboarding:awaiting_burst"
    assert [s["id"] for s in flow["steps"]] == [f"onboarding_message_{n}" for n in range(1, 5)]
    # Starting arms only the first step, which the receiver then gets
    (request,) = receiver.wait_for(1, timeout=10)
    assert request.method == "POST"
    assert request.path == "/send"
    assert json.loads(request.body) == {"n": 1}
    assert len(receiver.wait_for(2, timeout=0.5)) == 1  # step 2 waits its 8 s
    with _api(server) as api:
        assert api.delete("/v2/flows/session-42").status_code == 200
