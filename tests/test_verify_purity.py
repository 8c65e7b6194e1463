"""`scan --verify` never runs code from the scanned files unless asked (`--verify-user-code`), and even
then only functions that pass the whole-function allow-list: the attack shapes below are refused at
extraction, and end to end none of them leaves its marker file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.verify.extract import extract_function

LOOP = """\
    C = [[0.0] * 20 for _ in range(20)]
    for i in range(20):
        for j in range(20):
            for k in range(20):
                C[i][j] += A[i][k] * B[k][j]
    return C
"""


def payloads(marker: Path) -> dict[str, str]:
    """One ADV401 function per attack; each would create `marker`-N when defined or called."""
    m = str(marker)
    subclasses = "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
    heads = {
        "attribute_chain": f"def f1(A, B):\n    torch.os.system('touch {m}-1')\n",
        "dunder_walk": f"def f2(A, B):\n    {subclasses}.__init__.__globals__['system']('touch {m}-2')\n",
        "default_argument": f"def f3(A, B, x=torch.os.system('touch {m}-3')):\n",
        "annotation": f"def f4(A: torch.os.system('touch {m}-4'), B):\n",
        "return_annotation": f"def f5(A, B) -> torch.os.system('touch {m}-5'):\n",
        "decorator": f"@torch.os.system('touch {m}-6') or (lambda f: f)\ndef f6(A, B):\n",
        "getattr": f"def f7(A, B):\n    getattr(torch, 'os').system('touch {m}-7')\n",
        "framework_attribute": f"def f8(A, B):\n    np.lib.format.os.system('touch {m}-8')\n",
        "method_on_input": f"def f9(A, B):\n    A.__class__.__init__.__globals__\n",
        "lambda": f"def f10(A, B):\n    g = lambda: torch.os.system('touch {m}-10')\n    g()\n",
    }
    return {name: head + LOOP for name, head in heads.items()}


def module_text(marker: Path) -> str:
    return "import numpy as np\nimport torch\n\n\n" + "\n\n".join(payloads(marker).values())


def test_every_attack_shape_is_refused_at_extraction(tmp_path):
    text = module_text(tmp_path / "MARK")
    flagged = [i for i, ln in enumerate(text.splitlines(), 1) if "C[i][j] +=" in ln]
    names = list(payloads(tmp_path / "MARK"))
    assert len(flagged) == len(names)
    for name, line in zip(names, flagged):
        got = extract_function(text, line)
        assert got.function is None, f"{name} was accepted"
        assert got.refusal, name


@pytest.mark.parametrize(
    "src",
    [
        "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n",
        "def mm(A, B): return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n",
        "def mm(A, B, n=3, eps=-1.5):\n    out = []\n    for i in range(len(A)):\n        row = []\n        for j in range(len(B[0])):\n"
        "            row.append(sum(A[i][k] * B[k][j] for k in range(len(B))))\n        out.append(row)\n    return out\n",
        "import numpy as np\ndef mm(a, b, n):\n    out = np.zeros((n, n), dtype=np.float64)\n    for i in range(n):\n        for j in range(n):\n"
        "            for k in range(n):\n                out[i, j] += a[i, k] * b[k, j]\n    return out\n",
    ],
)
def test_plain_matmul_functions_are_still_lifted(src):
    got = extract_function(src, max(1, src.count("\n") - 1))
    assert got.function is not None, got.refusal


def scan_payloads(run_cli, tmp_path: Path, flag: str):
    """Scan the attack file with `flag`; every payload would leave a MARK-n file beside it if it ran."""
    src = tmp_path / "evil.py"
    src.write_text(module_text(tmp_path / "MARK"))
    proc = run_cli("scan", str(src), flag, "--format", "json", "--select", "ADV401", "--timeout", "120")
    assert proc.returncode == 1, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("MARK")) == []
    return proc


@pytest.mark.needs_torch
def test_scan_verify_without_the_flag_runs_no_user_code(run_cli, tmp_path):
    proc = scan_payloads(run_cli, tmp_path, "--verify")
    findings = json.loads(proc.stdout)["findings"]
    assert len(findings) >= 8
    for f in findings:
        own = [v for v in f["verifications"] if (v["detail"] or "").startswith("your function was not run")]
        assert own, f["verifications"]
        shipped = [v for v in f["verifications"] if v["extra"].get("user_function", "absent") == "absent"]
        assert shipped, "the shipped pair is measured instead"


@pytest.mark.needs_torch
def test_scan_verify_user_code_refuses_every_attack_and_runs_none(run_cli, tmp_path):
    proc = scan_payloads(run_cli, tmp_path, "--verify-user-code")
    assert "--verify-user-code runs flagged functions lifted from the scanned files" in proc.stderr
    for f in json.loads(proc.stdout)["findings"]:
        own = [v for v in f["verifications"] if "user_function" in v["extra"]]
        assert own and own[0]["status"] == "skipped", f["verifications"]


@pytest.mark.needs_torch
def test_scan_verify_user_code_measures_a_benign_function_in_an_isolated_child(run_cli, tmp_path):
    src = tmp_path / "mm.py"
    src.write_text("def matmul(A, B):\n" + LOOP.replace("20", "30"))
    proc = run_cli("scan", str(src), "--verify-user-code", "--format", "json", "--select", "ADV401", "--timeout", "120")
    assert proc.returncode == 1, proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    (v,) = finding["verifications"]
    assert v["extra"]["user_function"] == "matmul" and v["equivalent"] is True
    assert v["status"] in ("measured", "no-significant-gain")
    assert v["extra"]["network"] in ("isolated", "not isolated (no network namespace could be created here)")
