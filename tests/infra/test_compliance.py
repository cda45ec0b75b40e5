"""cdk-nag (AwsSolutions) and cfn-lint on every synthesized deployment."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from aws_cdk.assertions import Annotations, Match

from infra.nag import MIN_REASON_LENGTH
from tests.infra.synth import Deployment, Deployments

# CDK's DependsOn on a function's role policy duplicates what GetAtt implies (a warning only).
CFN_LINT_IGNORED = ("W3005",)
NAG = Match.string_like_regexp("AwsSolutions-.*")


def test_no_unsuppressed_cdk_nag_errors(each: Deployment) -> None:
    errors = Annotations.from_stack(each.stack).find_error("*", NAG)
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_no_unsuppressed_cdk_nag_warnings(each: Deployment) -> None:
    warnings = Annotations.from_stack(each.stack).find_warning("*", NAG)
    assert [f"{w.id}: {w.entry.data}" for w in warnings] == []


def _suppressions(d: Deployment) -> list[tuple[str, str, str]]:
    """(logical id, rule id, reason) of every cdk-nag suppression in the template."""
    return [
        (logical_id, rule["id"], rule.get("reason", ""))
        for logical_id, resource in d.json["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


def test_every_suppression_gives_a_reason(each: Deployment) -> None:
    suppressions = _suppressions(each)
    assert suppressions, "expected the documented suppressions (IAM5, L1, SMG4, ...)"
    short = [s for s in suppressions if len(s[2].strip()) < MIN_REASON_LENGTH]
    assert short == []


def test_every_suppressed_rule_still_has_a_finding_to_suppress(each: Deployment) -> None:
    # A suppression whose rule no longer fires anywhere in the stack is stale: remove it.
    # cdk-nag names it AwsSolutions-<stage path>-<stack>-NagReport.csv (the stage path is empty).
    (report,) = each.outdir.glob(f"AwsSolutions-*{each.stack.stack_name}-NagReport.csv")
    with report.open(newline="") as f:
        rows = list(csv.DictReader(f))
    suppressed = {row["Rule ID"] for row in rows if row["Compliance"] == "Suppressed"}
    assert {rule for _, rule, _ in _suppressions(each)} <= suppressed


def test_cfn_lint_finds_no_errors_or_warnings(deployments: Deployments, tmp_path: Path) -> None:
    templates = []
    for d in deployments.all():
        path = tmp_path / f"{d.name}.template.json"
        path.write_text(json.dumps(d.json))
        templates.append(str(path))
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(  # noqa: S603 - fixed argv
        [
            str(cfn_lint),
            "--format",
            "json",
            "--ignore-checks",
            *CFN_LINT_IGNORED,
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert [(f["Rule"]["Id"], f["Message"]) for f in findings] == [], result.stderr
    assert result.returncode == 0, result.stderr
