"""Property fuzz of the whole pipeline on generated programs (hypothesmith): scan, fix, report.

For any program CPython accepts: the scan reports findings or a per-file error but never an internal
error; every fix the fixer applies leaves code that still parses; the JSON report reads back to the same
findings. Bounded for CI; `ADVISOR_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py` runs longer by hand.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from advisor.config import Config  # noqa: E402
from advisor.engine import scan_file  # noqa: E402
from advisor.fixer import fix_file  # noqa: E402
from advisor.report import render  # noqa: E402
from advisor.report.load import result_from_dict  # noqa: E402
from advisor.rule import rules_by_code  # noqa: E402
from advisor.types import ScanResult  # noqa: E402

RULES = Path(__file__).resolve().parent.parent / "advisor" / "rules"
EXAMPLES = int(os.environ.get("ADVISOR_FUZZ_EXAMPLES", "40"))
# Snippets that make rules fire (and offer fixes), so generated code lands next to real findings.
SNIPPETS = sorted(p.read_text(encoding="utf-8") for p in RULES.glob("*/adv*/pos_*.py"))[:60]
CODES = list(rules_by_code())


def _programs() -> st.SearchStrategy[str]:
    generated = st.one_of(hypothesmith.from_grammar(), hypothesmith.from_node())
    mixed = st.builds(lambda a, b, c: f"{a}\n{b}\n{c}", st.sampled_from(SNIPPETS), generated, st.sampled_from(SNIPPETS))
    inside = st.builds(_inside_loop, st.sampled_from(SNIPPETS), generated)
    return st.one_of(generated, mixed, inside)


def _inside_loop(snippet: str, code: str) -> str:
    """Generated code as the body of a training-style loop, where the per-step rules look."""
    body = "\n".join("        " + line for line in code.splitlines()) or "        pass"
    return f"{snippet}\nfor step in range(10):\n    if step:\n{body}\n    loss.backward()\n    optimizer.step()\n"


def _compiles(text: str) -> bool:
    try:
        compile(text, "<fuzz>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    database=None,
)
@given(_programs())
def test_generated_programs_scan_fix_and_report_without_internal_errors(source: str) -> None:
    hypothesis.assume(_compiles(source))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.py"
        path.write_text(source, encoding="utf-8")
        findings, error, _ = scan_file(path, CODES, Config())
        assert error is None or not error.message.startswith("internal error"), error.message
        result = ScanResult(findings=findings, errors=[error] if error else [], files_scanned=1)
        result.sort()
        saved = json.loads(render("json", result))
        assert [f.to_dict() for f in result_from_dict(saved).findings] == [f.to_dict() for f in result.findings]
        render("sarif", result)
        render("text", result)
        outcome = fix_file(path, Config(), unsafe=True)
        assert outcome.error is None or "internal error" not in outcome.error.message, outcome.error.message
        fixed = path.read_text(encoding="utf-8")
        assert _compiles(fixed), f"the fixed file does not compile:\n{outcome.diff}"
        if outcome.changed:
            assert fixed != source and outcome.fixed
