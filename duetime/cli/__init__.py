"""The `duetime` CLI (Typer and Rich): `duetime --help`."""

from __future__ import annotations

import sys
from pathlib import Path

from dotenv import load_dotenv


def main() -> None:
    # A .env beside the caller may hold QSTASH_URL and QSTASH_TOKEN; the environment wins.
    load_dotenv(Path.cwd() / ".env", override=False)
    from duetime.cli.app import app  # noqa: PLC0415 - after .env: options read the environment

    sys.exit(app())
