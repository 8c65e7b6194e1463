"""`advisor explain CODE`: the rule's documentation page, plus the gain measured here if cached."""

from __future__ import annotations

import textwrap
from typing import Any

from advisor.rule import Rule


def _section(title: str, body: str) -> list[str]:
    return [f"## {title}", textwrap.dedent(body).strip(), ""]


def explain_text(rule: type[Rule]) -> str:
    lines = docs_markdown(rule).splitlines()
    lines += ["", "## Measured gain", measured_gain_text(rule), ""]
    return "\n".join(lines).rstrip() + "\n"


def docs_markdown(rule: type[Rule]) -> str:
    """The rule's page without machine-specific figures: also the SARIF rule `help`."""
    docs = rule.docs
    lines = [f"# {rule.code} {rule.name}", "", rule.summary, ""]
    lines += _section("What it does", docs.what)
    lines += _section("Why is this bad?", docs.why)
    lines += _section("Example", f"```python\n{textwrap.dedent(docs.example).strip()}\n```")
    lines += _section("Use instead", f"```python\n{textwrap.dedent(docs.use_instead).strip()}\n```")
    lines += ["## Fix", rule.suggestion, "", fix_availability(rule), ""]
    if docs.references:
        lines += ["## References", *(f"- {ref}" for ref in docs.references), ""]
    return "\n".join(lines).rstrip() + "\n"


def fix_availability(rule: type[Rule]) -> str:
    """Which flag applies the rule's autofix, and what it does."""
    if rule.fix_safe is None:
        return "Autofix: none; change the code by hand."
    if rule.fix_safe:
        return f"Autofix (safe, `advisor scan --fix`): {rule.fix_title}."
    return f"Autofix (unsafe, `advisor scan --unsafe-fixes`; review it with `--diff` first): {rule.fix_title}."


def measured_gain_text(rule: type[Rule]) -> str:
    """Numbers measured on this machine and cached by `advisor verify`; where there are none, the figures
    recorded on another machine, labelled with it. Never suggests a verify that cannot measure here."""
    if rule.pair_path() is None:
        return f"Not measured: {rule.no_pair_reason}."
    from advisor.present import describe_verification

    here = _cached_here(rule.code)
    if here:
        return "\n".join(describe_verification(v) for v in here)
    devices = _pair_devices(rule.code)
    if devices and "cpu" not in devices:
        lines = [f"Not measured on this machine: the pair needs a CUDA device (`advisor verify {rule.code}` on a machine with one)."]
    else:
        lines = [f"Not measured on this machine yet: run `advisor verify {rule.code}`."]
    from advisor.recorded import recorded_machine, recorded_results

    elsewhere = recorded_results(rule.code)
    if elsewhere:
        lines.append(f"Recorded on another machine ({recorded_machine()}; yours will differ):")
        lines += [describe_verification(v) for v in elsewhere]
    return "\n".join(lines)


def _cached_here(code: str) -> list[Any]:
    try:
        from advisor.verify.cache import cached_results_for
    except ImportError:
        return []
    return cached_results_for(code)


def _pair_devices(code: str) -> tuple[str, ...]:
    try:
        from advisor.verify.pairs import pair_for
    except ImportError:
        return ()
    spec = pair_for(code)
    return tuple(spec.devices) if spec is not None else ()
