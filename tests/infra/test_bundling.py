"""The Lambda bundle, built without Docker: pip wheels for Linux/arm64 plus `functions/`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from infra.bundling import (
    BUNDLE_PYTHON_ENV,
    PROJECT_ROOT,
    BundlingError,
    LocalPythonBundler,
    bytecode_compiler,
    lambda_code,
    python_version_of,
    runtime_requirements,
)

PYTHON = lambda_.Runtime.PYTHON_3_13


def _pyproject_dependencies() -> list[str]:
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as f:
        deps: list[str] = tomllib.load(f)["project"]["dependencies"]
    return deps


def test_bundle_carries_the_runtime_dependencies_of_pyproject() -> None:
    assert list(runtime_requirements()) == _pyproject_dependencies()


def test_installed_package_metadata_gives_the_same_dependencies(tmp_path: Path) -> None:
    # Given no pyproject.toml (duetime installed from a wheel, used from another CDK app)
    requirements = runtime_requirements(tmp_path)
    # Then the distribution's metadata gives the runtime dependencies, without any extra
    assert list(requirements) == _pyproject_dependencies()


def test_wheels_are_chosen_for_the_lambda_python_and_arm64() -> None:
    bundler = LocalPythonBundler(
        python_version=python_version_of(PYTHON), requirements=["pydantic>=2.8"]
    )
    command = bundler.pip_command("/out")
    assert command[command.index("--python-version") + 1] == "3.13"
    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert "--only-binary=:all:" in command
    assert command[command.index("--target") + 1] == "/out"


def test_only_python_runtimes_are_accepted() -> None:
    with pytest.raises(BundlingError):
        python_version_of(lambda_.Runtime.NODEJS_22_X)


def _assert_is_lambda_bundle(root: Path) -> None:
    assert (root / "functions" / "handlers" / "dispatch.py").is_file()
    assert (root / "functions" / "handlers" / "schedule.py").is_file()
    # The console's static files ride along as package data.
    assert {"index.html", "app.js", "app.css", "icon.svg"} <= {
        f.name for f in (root / "functions" / "console").iterdir()
    }
    # The dev server stays behind, and so does this machine's bytecode.
    assert not (root / "functions" / "local").exists()
    assert all(pyc.name.endswith(".cpython-313.pyc") for pyc in root.rglob("*.pyc"))
    # Compiled wheels are Linux/arm64 builds for the Lambda's Python, not this machine's.
    (native,) = list((root / "pydantic_core").glob("_pydantic_core.*.so"))
    assert native.name == "_pydantic_core.cpython-313-aarch64-linux-gnu.so"


@pytest.mark.bundling
def test_local_bundler_builds_the_bundle_into_a_directory(tmp_path: Path) -> None:
    # Given the bundler CDK calls, with the project's runtime dependencies
    bundler = LocalPythonBundler(
        python_version=python_version_of(PYTHON), requirements=runtime_requirements()
    )
    # When it bundles into an empty directory
    bundled = bundler.try_bundle(str(tmp_path), image=cdk.DockerImage.from_registry("unused"))
    # Then it reports success and the directory is a deployable Lambda bundle
    assert bundled is True
    _assert_is_lambda_bundle(tmp_path)
    for package in ("boto3", "aws_lambda_powertools", "pydantic", "pynamodb", "httpx", "jwt"):
        assert (root := tmp_path / package).is_dir(), root


@pytest.mark.bundling
def test_cdk_synth_stages_the_bundle_through_jsii(tmp_path: Path) -> None:
    # Given a stack with bundling on (the default when the CLI deploys)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Bundled")
    lambda_.Function(
        stack,
        "Dispatch",
        # One small compiled wheel keeps this fast; the full set is built by the test above.
        code=lambda_code(PYTHON, requirements=["pydantic-core"]),
        handler="functions.handlers.dispatch.handler",
        runtime=PYTHON,
        architecture=lambda_.Architecture.ARM_64,
    )
    # When CDK synthesizes it (calling try_bundle from node, through jsii)
    app.synth()
    # Then the staged asset is the bundle
    (asset,) = [p for p in (tmp_path / "cdk.out").glob("asset.*") if p.is_dir()]
    _assert_is_lambda_bundle(asset)


@pytest.mark.bundling
def test_bytecode_is_compiled_for_the_lambda_python(tmp_path: Path) -> None:
    # Given an interpreter of the Lambda's Python version on this machine
    compiler = bytecode_compiler(python_version_of(PYTHON))
    if compiler is None:
        pytest.skip(reason=f"no Python 3.13 interpreter here: set {BUNDLE_PYTHON_ENV} to run this")
    bundler = LocalPythonBundler(
        python_version="3.13", requirements=["pydantic-core"], compile_with=compiler
    )
    # When it bundles
    bundler.try_bundle(str(tmp_path), image=cdk.DockerImage.from_registry("unused"))
    # Then the sources come with bytecode the Lambda's interpreter loads without recompiling
    assert (tmp_path / "functions" / "__pycache__" / "config.cpython-313.pyc").is_file()
    assert list((tmp_path / "pydantic_core").rglob("*.cpython-313.pyc"))
