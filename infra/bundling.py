"""The Lambda bundle, built on this machine without Docker.

One asset for every function: the runtime dependencies from pyproject.toml installed as
Linux/arm64 wheels for the Lambda's Python version, plus the `functions` package (without the
dev server in functions/local). CDK calls `try_bundle`; the Docker image is never pulled.

Bytecode: /var/task is read-only, so a bundle without .pyc files compiles every imported
module on every cold start (measured here: 2.0 s instead of 0.7 s to import the handlers).
When an interpreter of the Lambda's exact Python version is available (`python3.13` on PATH,
the one running CDK, or DUETIME_BUNDLE_PYTHON), it compiles the bundle; otherwise the bundle
ships without .pyc and says so.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingFileAccess,
    BundlingOptions,
    BundlingOutput,
    DockerImage,
    DockerVolume,
    ILocalBundling,
)
from aws_cdk import aws_lambda as lambda_

import functions

FUNCTIONS_DIR = Path(functions.__file__).resolve().parent
PROJECT_ROOT = FUNCTIONS_DIR.parent
DISTRIBUTION = "duetime"
# Lambda arm64 runs Amazon Linux 2023 (glibc 2.34): these wheel tags all load there.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# Not part of a deployed function: the dev server, caches.
_EXCLUDED_TOP_LEVEL = frozenset({"local"})
_EXCLUDED_ANYWHERE = ("__pycache__", "*.pyc", "*.pyo")
BUNDLE_PYTHON_ENV = "DUETIME_BUNDLE_PYTHON"
LAMBDA_TASK_ROOT = "/var/task"


class BundlingError(RuntimeError):
    """The Lambda bundle could not be built (pip failed, or the sources are missing)."""


def runtime_requirements(project_root: Path = PROJECT_ROOT) -> tuple[str, ...]:
    """`[project.dependencies]` of pyproject.toml, or of the installed distribution.

    A source checkout has pyproject.toml next to `functions/`; an installed duetime (the
    construct used from another CDK app) has its metadata instead.
    """
    pyproject = project_root / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as f:
            project = tomllib.load(f)["project"]
        return tuple(str(dep) for dep in project.get("dependencies", []))
    requires = importlib.metadata.requires(DISTRIBUTION) or []
    return tuple(req for req in requires if "extra ==" not in req)


def python_version_of(runtime: lambda_.Runtime) -> str:
    """`python3.13` -> `3.13` (the version pip picks wheels for)."""
    name = runtime.name
    if not name.startswith("python3."):
        raise BundlingError(f"duetime runs on a Python runtime, got {name}")
    return name.removeprefix("python")


@cache
def bytecode_compiler(python_version: str) -> str | None:
    """A local interpreter of exactly `python_version`, to compile the bundle's .pyc, if any
    (looked up once per process: each candidate costs an interpreter start)."""
    candidates = (
        os.environ.get(BUNDLE_PYTHON_ENV),
        shutil.which(f"python{python_version}"),
        sys.executable,
    )
    for candidate in candidates:
        if candidate and _version_of(candidate) == python_version:
            return candidate
    return None


def _version_of(python: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - an interpreter path, no shell
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Installs Linux/arm64 wheels with pip and copies the `functions` package."""

    def __init__(
        self,
        *,
        python_version: str,
        requirements: Sequence[str],
        functions_dir: Path = FUNCTIONS_DIR,
        platforms: Sequence[str] = PLATFORMS,
        compile_with: str | None = None,
    ) -> None:
        self.python_version = python_version
        self.requirements = tuple(requirements)
        self.functions_dir = functions_dir
        self.platforms = tuple(platforms)
        # An interpreter of `python_version` that compiles the bundle; None ships sources only.
        self.compile_with = compile_with

    def pip_command(self, output_dir: str) -> list[str]:
        platform_args = [arg for p in self.platforms for arg in ("--platform", p)]
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            # pip would compile for the interpreter running it; `compile_with` does it right.
            "--no-compile",
            "--target",
            output_dir,
            *platform_args,
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            "--only-binary=:all:",
            *self.requirements,
        ]

    def try_bundle(
        self,
        output_dir: str,
        *,
        image: DockerImage,
        bundling_file_access: BundlingFileAccess | None = None,
        command: Sequence[str] | None = None,
        entrypoint: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        local: ILocalBundling | None = None,
        network: str | None = None,
        output_type: BundlingOutput | None = None,
        platform: str | None = None,
        security_opt: str | None = None,
        user: str | None = None,
        volumes: Sequence[DockerVolume | dict[str, Any]] | None = None,
        volumes_from: Sequence[str] | None = None,
        working_directory: str | None = None,
    ) -> bool:
        """Build the bundle into `output_dir`; raise rather than fall back to Docker."""
        if not (self.functions_dir / "__init__.py").is_file():
            raise BundlingError(f"no functions package at {self.functions_dir}")
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            self.pip_command(output_dir), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise BundlingError(f"pip could not install the Lambda dependencies:\n{result.stderr}")
        # Console scripts are useless in a Lambda and only add to the zip.
        shutil.rmtree(Path(output_dir) / "bin", ignore_errors=True)
        shutil.copytree(
            self.functions_dir,
            Path(output_dir) / self.functions_dir.name,
            ignore=self._ignore,
            dirs_exist_ok=True,
        )
        self._compile(output_dir)
        return True

    def _compile(self, output_dir: str) -> None:
        if self.compile_with is None:
            # Shown by `cdk synth` next to "Bundling asset ...".
            print(
                f"duetime: no Python {self.python_version} interpreter found (set "
                f"{BUNDLE_PYTHON_ENV}); the bundle ships without .pyc: slower cold starts",
                file=sys.stderr,
            )
            return
        # unchecked-hash: a .pyc does not depend on file times, so the same sources give the
        # same bundle (and asset hash); Lambda's sources never change under it.
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                self.compile_with,
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "--invalidation-mode",
                "unchecked-hash",
                # Paths in tracebacks as Lambda sees them, and not the build directory's.
                "-s",
                output_dir,
                "-p",
                LAMBDA_TASK_ROOT,
                output_dir,
            ],
            capture_output=True,
            text=True,
            check=False,
            # Set constants are marshalled in hash order: fix the seed for a stable bundle.
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        if result.returncode != 0:
            raise BundlingError(f"compiling the bundle failed:\n{result.stdout}{result.stderr}")

    def _ignore(self, directory: str, names: list[str]) -> set[str]:
        ignored = set(shutil.ignore_patterns(*_EXCLUDED_ANYWHERE)(directory, names))
        if Path(directory).resolve() == self.functions_dir.resolve():
            ignored |= _EXCLUDED_TOP_LEVEL & set(names)
        return ignored


def lambda_code(
    runtime: lambda_.Runtime, *, requirements: Sequence[str] | None = None
) -> lambda_.Code:
    """The one asset every duetime function runs from (`requirements`: pyproject's by default)."""
    version = python_version_of(runtime)
    bundler = LocalPythonBundler(
        python_version=version,
        requirements=runtime_requirements() if requirements is None else requirements,
        compile_with=bytecode_compiler(version),
    )
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        # Hash what was built: a new dependency version is a new asset even when the
        # sources did not change. Skipped bundling (template tests) hashes nothing.
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never pulled: the local bundler either builds the bundle or raises.
            image=runtime.bundling_image,
            local=bundler,
        ),
    )
