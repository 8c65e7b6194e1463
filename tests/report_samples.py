"""Findings for the reporter tests: real scans of small sources, with verifier results and a fix attached
the way `scan --verify` and the autofix would attach them."""

from __future__ import annotations

from dataclasses import replace

from advisor.engine import analyse_text
from advisor.excerpt import fix_diff
from advisor.types import Edit, Finding, Fix, Measurement, ScanResult, Verification

MATMUL = (
    "import numpy as np\n"
    "\n"
    "\n"
    "def mm(A, B):\n"
    "    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"
)
SYNC = """\
import torch

device = torch.device("cuda")  # float32 on purpose: precision is not what this sample shows (ADV303 stays silent)


def train(model, loader, optimizer, criterion):
    total = 0.0
    for x, y in loader:
        loss = criterion(model(x.to(device)), y.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total
"""
EVIL = "</script><script>alert(1)</script>"

MEASURED = Verification(
    code="ADV401", device="cpu", status="measured", equivalent=True, sizes={"n": 200}, sizes_source="defaults",
    before=Measurement(1.37, 0.03, 4), after=Measurement(0.000263, 2.8e-06, 222),
    speedup=5210.0, speedup_low=5110.0, speedup_high=5310.0, device_name="Test CPU", extra={"user_function": "mm"},
)
NOT_EQUIVALENT = Verification(
    code="ADV401", device="cpu", status="not-equivalent", equivalent=False, sizes={"n": 200}, sizes_source="defaults",
    detail="output: max abs difference 9.15e-07 exceeds rtol=1e-09",
)
SKIPPED_CUDA = Verification(
    code="ADV103", device="cuda", status="skipped", equivalent=None, sizes={"steps": 100}, sizes_source="defaults",
    detail="needs a CUDA device to measure — none found here",
)
LOSS = Verification(
    code="ADV301", device="cpu", status="measured", equivalent=True, sizes={"epochs": 30}, sizes_source="defaults",
    detail="held-out loss after 30 epochs, 3 seeds: fixed LR 0.52 ± 0.01, scheduler 0.31 ± 0.01", metric="loss",
    extra={"before": {"loss_mean": 0.52, "loss_sd": 0.01}, "after": {"loss_mean": 0.31, "loss_sd": 0.01}, "labels": ["fixed LR", "scheduler"]},
)


def scanned(text: str, path: str) -> list[Finding]:
    found = analyse_text(text, path)
    assert found, f"sample {path} should produce findings"
    return found


def with_fix(f: Finding, text: str) -> Finding:
    """An ADV401 autofix as issue 6 describes it: the comprehension becomes `np.asarray(A) @ np.asarray(B)`."""
    start = text.index("[[sum")
    end = text.index("\n", start)
    fix = Fix("replace the loops with numpy.matmul", safe=False, edits=(Edit(start, end, "np.asarray(A) @ np.asarray(B)"),))
    return replace(f, fix=replace(fix, diff=fix_diff(text, fix, f.path)))


def sample_result() -> ScanResult:
    (matmul,) = scanned(MATMUL, "src/mm.py")
    (sync,) = scanned(SYNC, "src/train.py")
    notebook = replace(sync, path="nb/explore.ipynb", cell=2, span=replace(sync.span, line=4, end_line=4))
    result = ScanResult(
        findings=[
            with_fix(matmul, MATMUL).with_verifications((MEASURED,)),
            sync.with_verifications((SKIPPED_CUDA,)),
            notebook,
        ],
        files_scanned=3,
        lines_scanned=40,
        environment={"python": "3.12.0", "advisor": "0.1.0", "torch": "2.13.0", "numpy": "2.1.0", "cpu": "Test CPU", "gpu": "none", "date": "2026-01-01 00:00 UTC"},
    )
    result.sort()
    return result


def many_findings(n: int, files: int = 250) -> ScanResult:
    """A big repository's run: `n` findings over `files` files, every rule and kind of result present."""
    base = sample_result().findings
    kinds = [(MEASURED,), (NOT_EQUIVALENT,), (SKIPPED_CUDA,), (LOSS,), ()]
    findings = []
    for i in range(n):
        f = base[i % len(base)]
        line = 5 + (i // files) % 400
        findings.append(
            replace(
                f,
                path=f"pkg{i % files % 7}/module_{i % files:03d}.py" if f.cell is None else f"notebooks/nb_{i % files:03d}.ipynb",
                span=replace(f.span, line=line, end_line=line),
                excerpt=replace(f.excerpt, first_line=line - (f.span.line - f.excerpt.first_line)) if f.excerpt else None,
                verifications=kinds[i % len(kinds)],
            )
        )
    result = ScanResult(findings=findings, files_scanned=files, lines_scanned=files * 400, environment=sample_result().environment)
    result.sort()
    return result
