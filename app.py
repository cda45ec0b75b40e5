"""CDK entry point: `npx aws-cdk@2 synth|deploy` runs this (see cdk.json and docs/deploy.md).

Settings come from cdk.json context or `-c duetime:<key>=<value>` (infra/config.py).
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import DuetimeStack, props_from_context


def main() -> None:
    # The CLI tells the app where to write (CDK_OUTDIR); run directly, write to ./cdk.out.
    app = cdk.App() if os.environ.get("CDK_OUTDIR") else cdk.App(outdir="cdk.out")
    props = props_from_context(app.node)
    stack_name = str(app.node.try_get_context("duetime:stackName") or "Duetime")
    DuetimeStack(
        app,
        stack_name,
        props=props,
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
