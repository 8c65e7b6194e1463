"""SARIF 2.1.0 output, for GitHub code scanning and other SARIF viewers.

Columns are Python string indices, so the run declares `columnKind: unicodeCodePoints` and regions are
exact (1-based, end column one past the last character, as SARIF wants). Rule metadata comes from each
rule's RuleDocs; verifier results go into result `properties`, worded as in the text output.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from advisor import __version__
from advisor.present import describe_runtime, verification_lines
from advisor.rule import Rule, rules_by_code
from advisor.types import Finding, ScanResult, Severity

LEVELS = {Severity.WARNING: "warning", Severity.INFO: "note"}
# GitHub code scanning reads `problem.severity` to rank results that are not security alerts.
PROBLEM_SEVERITY = {Severity.WARNING: "warning", Severity.INFO: "recommendation"}
SRCROOT = "%SRCROOT%"


def artifact_location(path: str) -> dict[str, Any]:
    """Relative paths resolve against the checkout (%SRCROOT%); absolute ones become file URIs."""
    posix = PurePath(path).as_posix()
    if posix.startswith("/"):
        return {"uri": "file://" + quote(posix)}
    return {"uri": quote(posix.removeprefix("./")), "uriBaseId": SRCROOT}


def rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    from advisor.explain import docs_markdown

    help_md = docs_markdown(rule)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": " ".join(textwrap.dedent(rule.docs.what).split())},
        "help": {"text": help_md, "markdown": help_md},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": ["performance"],
            "problem.severity": PROBLEM_SEVERITY[rule.severity],
            "measurable": rule.pair_path() is not None,
        },
    }


def _unknown_rule(finding: Finding) -> dict[str, Any]:
    """A code this advisor no longer ships (a run saved by another version): describe it from the finding."""
    return {
        "id": finding.code,
        "name": finding.name,
        "shortDescription": {"text": finding.message},
        "fullDescription": {"text": finding.why},
        "help": {"text": finding.suggestion},
        "defaultConfiguration": {"level": LEVELS[finding.severity]},
    }


def _region(f: Finding) -> dict[str, Any]:
    region: dict[str, Any] = {
        "startLine": f.span.line,
        "startColumn": f.span.column,
        "endLine": f.span.end_line,
        "endColumn": f.span.end_column,
    }
    if f.excerpt is not None:
        first = f.span.line - f.excerpt.first_line
        flagged = f.excerpt.lines[first : first + f.span.end_line - f.span.line + 1]
        if flagged:
            region["snippet"] = {"text": "\n".join(flagged) + "\n"}
    return region


def _fingerprint(f: Finding) -> str:
    """Stable across runs while the flagged code is unchanged, even when lines above it move."""
    flagged = ""
    if f.excerpt is not None:
        index = f.span.line - f.excerpt.first_line
        if 0 <= index < len(f.excerpt.lines):
            flagged = " ".join(f.excerpt.lines[index].split())
    key = "\0".join([f.code, PurePath(f.path).as_posix(), str(f.cell), flagged, f.message])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _message(f: Finding) -> str:
    lines = [f.message + ".", f"Fix: {f.suggestion}."]
    lines += [line for v in f.verifications for line in verification_lines(v)]
    if f.runtime is not None:
        lines.append(describe_runtime(f.runtime) + ".")
    if f.cell is not None:
        lines.insert(0, f"Notebook cell {f.cell + 1}:")
    return "\n".join(lines)


def _result(f: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    properties: dict[str, Any] = {"confidence": f.confidence.value, "severity": f.severity.value, "name": f.name}
    if f.cell is not None:
        properties["cell"] = f.cell
    if f.verifications:
        properties["verifications"] = [v.to_dict() for v in f.verifications]
        measured = [v for v in f.verifications if v.status == "measured" and v.speedup is not None]
        if measured:
            best = max(measured, key=lambda v: v.speedup or 0.0)
            properties["speedup"] = best.speedup
            properties["speedupInterval"] = [best.speedup_low, best.speedup_high]
            properties["speedupDevice"] = best.device
        counted = [v.instructions for v in f.verifications if v.instructions and v.instructions.get("before") is not None]
        if counted:
            properties["instructions"] = counted[0]
    if f.runtime is not None:
        properties["runtime"] = f.runtime.to_dict()
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": rule_index[f.code],
        "level": LEVELS[f.severity],
        "message": {"text": _message(f)},
        "locations": [{"physicalLocation": {"artifactLocation": artifact_location(f.path), "region": _region(f)}}],
        "partialFingerprints": {"advisorFinding/v1": _fingerprint(f)},
        "properties": properties,
    }
    if f.fix is not None and f.cell is None:
        result["fixes"] = [
            {
                "description": {"text": f.fix.description + ("" if f.fix.safe else " (unsafe: review before applying)")},
                "artifactChanges": [
                    {
                        "artifactLocation": artifact_location(f.path),
                        "replacements": [
                            {
                                "deletedRegion": {"charOffset": e.start, "charLength": e.end - e.start},
                                "insertedContent": {"text": e.replacement},
                            }
                            for e in f.fix.edits
                        ],
                    }
                ],
            }
        ]
    return result


def as_dict(result: ScanResult) -> dict[str, Any]:
    known = rules_by_code()
    rules: list[dict[str, Any]] = [rule_descriptor(r) for r in known.values()]
    rule_index = {r.code: i for i, r in enumerate(known.values())}
    for f in result.findings:
        if f.code not in rule_index:
            rule_index[f.code] = len(rules)
            rules.append(_unknown_rule(f))
    notifications = [
        {
            "level": "error",
            "message": {"text": e.message},
            "locations": [{"physicalLocation": {"artifactLocation": artifact_location(e.path)}}],
        }
        for e in result.errors
    ]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "advisor", "version": __version__, "semanticVersion": __version__, "rules": rules}},
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": not result.errors, "toolExecutionNotifications": notifications}],
        "results": [_result(f, rule_index) for f in result.findings],
        "properties": {
            "environment": result.environment,
            "filesScanned": result.files_scanned,
            **({"profile": result.profile.to_dict()} if result.profile is not None else {}),
        },
    }
    return {"version": "2.1.0", "runs": [run]}


def render(result: ScanResult, **_: object) -> str:
    return json.dumps(as_dict(result), indent=2, ensure_ascii=False) + "\n"
