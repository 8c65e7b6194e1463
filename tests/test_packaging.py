"""The installed tool works outside this repo, ships its rules and fixtures inside `advisor`, and the
scanner never imports torch or numpy."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What `advisor scan` must never load: the verifier's frameworks and the editor/notebook integrations.
HEAVY = ("torch", "numpy", "pygls", "lsprotocol", "IPython")
MATMUL = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"


@pytest.mark.parametrize("fmt", ["json", "html", "sarif", "github"])
def test_scan_never_imports_torch_or_numpy(tmp_path, fmt):
    target = tmp_path / "train.py"
    target.write_text((REPO / "advisor" / "rules" / "device" / "adv103" / "pos_item_accumulate.py").read_text() + MATMUL)
    probe = (
        "import sys\n"
        "from advisor.cli import main\n"
        "try:\n"
        f"    main(['scan', {str(target)!r}, '--format', {fmt!r}, '--jobs', '1', '-o', {str(tmp_path / 'out')!r}])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print('CODE', code, 'HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "CODE 1 HEAVY []" in proc.stderr, proc.stderr


def test_installing_the_scanner_alone_pulls_no_framework_or_integration():
    """`pip install .` installs the base dependencies only: torch/numpy, pygls and IPython stay in extras."""
    import re

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = {re.split(r"[<>=;\[ ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    assert base == {"libcst", "click", "jinja2", "tomli"}
    extras = project["optional-dependencies"]
    assert {"pygls", "lsprotocol"} <= {re.split(r"[<>=;\[ ]", d, maxsplit=1)[0] for d in extras["lsp"]}


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repo(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(dist.glob("advisor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert "rules" not in tops and "fixtures" not in tops, tops
    assert "advisor/rules/compute/python_matmul.py" in names and "advisor/rules/compute/adv401/pair.py" in names
    assert {"advisor/report/report.html.j2", "advisor/report/report.css", "advisor/report/report.js"} <= set(names)
    assert any(n.startswith("advisor/rules/compute/adv401/pos_") for n in names)
    assert "advisor/rules/compute/adv401/fix_loop_nest.out.py" in names and "advisor/rules/_pair_helpers.py" in names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # the installed copy only: a PYTHONPATH pointing at a checkout (as when testing a worktree) would shadow it
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel)], capture_output=True, text=True, timeout=300, env=clean)
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.py").write_text(MATMUL)
    exe = env_dir / "bin" / "advisor"
    scan = subprocess.run([str(exe), "scan", "x.py"], capture_output=True, text=True, cwd=elsewhere, timeout=60, env=clean)
    assert scan.returncode == 1 and "x.py:2:12: ADV401" in scan.stdout, scan.stdout + scan.stderr
    html = subprocess.run([str(exe), "scan", "x.py", "--format", "html", "-o", "r.html"], capture_output=True, text=True, cwd=elsewhere, timeout=60, env=clean)
    assert html.returncode == 1 and "python-matmul" in (elsewhere / "r.html").read_text(), html.stderr
    where = subprocess.run([str(py), "-c", "import advisor, sys; print(advisor.__file__)"], capture_output=True, text=True, cwd=elsewhere, env=clean)
    assert str(env_dir) in where.stdout  # the installed copy ran, not this checkout
    rules = subprocess.run([str(exe), "rules"], capture_output=True, text=True, cwd=elsewhere, env=clean)
    assert rules.returncode == 0 and "ADV401" in rules.stdout
    explain = subprocess.run([str(exe), "explain", "ADV401"], capture_output=True, text=True, cwd=elsewhere, env=clean)
    assert explain.returncode == 0 and "## Use instead" in explain.stdout


def test_every_type_ignore_in_the_package_names_its_code_and_says_why():
    """mypy runs strict on advisor/ with no per-module exemptions; what it cannot follow is silenced line by
    line, each with its error code and a reason, so a reader can judge it (and mypy flags unused ones)."""
    import re

    package = Path(__file__).resolve().parent.parent / "advisor"
    bare = []
    for path in package.rglob("*.py"):
        if re.search(r"/adv\d+/", path.as_posix()):
            continue  # sample code the rules scan, not the package
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "type: ignore" in line and not re.search(r"type: ignore\[[\w, -]+\]\s+#\s*\S", line):
                bare.append(f"{path.relative_to(package)}:{number}")
    assert not bare, f"type: ignore without a code and a reason: {bare}"
    text = (package.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert "[[tool.mypy.overrides]]" not in text
