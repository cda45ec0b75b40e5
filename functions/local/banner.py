"""What `duetime dev` prints at start: shell exports an app and its receiver can paste."""

from __future__ import annotations

from functions.domain.signing import SigningKeys, webhook_secret


def banner(*, engine: str, url: str, token: str, keys: SigningKeys) -> str:
    return "\n".join(
        [
            f"# duetime dev: {engine}",
            f"# web console: {url}/console (sign in with QSTASH_TOKEN)",
            f"export QSTASH_URL={url}",
            f"export QSTASH_TOKEN={token}",
            f"export QSTASH_CURRENT_SIGNING_KEY={keys.current}",
            f"export QSTASH_NEXT_SIGNING_KEY={keys.next}",
            f"export DUETIME_WEBHOOK_SECRET={webhook_secret(keys.current)}",
        ]
    )
