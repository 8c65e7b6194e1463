"""`advisor explain CODE`: the rule's documentation page, plus the gain measured here if cached."""

from __future__ import annotations

import textwrap

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
    """Only numbers measured on this machine and cached by `advisor verify`; never a quoted figure."""
    if rule.pair_path() is None:
        return f"Not measured: {rule.no_pair_reason}."
    try:
        from advisor.verify.cache import cached_results_for
    except ImportError:
        return f"Run `advisor verify {rule.code}` to measure it on this machine."
    results = cached_results_for(rule.code)
    if not results:
        return f"Not measured on this machine yet: run `advisor verify {rule.code}`."
    from advisor.report.text import describe_verification

    return "\n".join(describe_verification(v) for v in results)
