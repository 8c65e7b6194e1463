"""The before/after pairs: where they live and what they declare, read without importing them.

A pair module (`advisor/rules/<family>/advNNN/pair.py`, beside its rule) imports torch/numpy, so the
parent process only parses it:
its literal `DEFAULT_SIZES`, `TOLERANCE`, `DEVICES`, `METRIC`, `COUNT_SIZES` and `NOT_COUNTED` are read with `ast.literal_eval`, and the
module itself is imported only inside the child process that measures it.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REQUIRED = ("DEFAULT_SIZES", "TOLERANCE", "DEVICES")
KNOWN_DEVICES = ("cpu", "cuda")


class PairError(Exception):
    """A pair module that does not declare what the verifier needs."""


@dataclass(frozen=True)
class PairSpec:
    code: str
    path: Path
    default_sizes: dict[str, Any]
    tolerance: dict[str, float]
    devices: tuple[str, ...]
    metric: str = "time"
    source_hash: str = ""
    doc: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Sizes for `--count-instructions` (callgrind runs ~50x slower), over the defaults; optional.
    count_sizes: dict[str, Any] = field(default_factory=dict)
    # Why this pair's instructions are not counted (its gain is not fewer instructions); optional.
    not_counted: str = ""

    @property
    def name(self) -> str:
        return self.code.lower()


def _helpers() -> Path:
    """The code every pair may import (`advisor.rules._pair_helpers`); it is part of each pair's hash."""
    return Path(__file__).resolve().parent.parent / "rules" / "_pair_helpers.py"


def _literals(tree: ast.Module) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for stmt in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        for t in targets:
            if isinstance(t, ast.Name) and t.id.isupper() and value is not None:
                try:
                    found[t.id] = ast.literal_eval(value)
                except ValueError:
                    pass
    return found


def _source_hash(path: Path, text: str) -> str:
    """The pair's text plus the shared pair helpers, which it may import."""
    h = hashlib.sha256(text.encode())
    h.update(_helpers().read_bytes())
    return h.hexdigest()


def load_spec(path: Path, code: str | None = None) -> PairSpec:
    """Read one pair's declarations; raises PairError naming what is missing."""
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise PairError(f"{path}:{exc.lineno}: syntax error in pair — fix the pair module") from None
    lits = _literals(tree)
    missing = [name for name in REQUIRED if name not in lits]
    if missing:
        raise PairError(f"{path}:1:1: pair does not declare {', '.join(missing)} as literals — add them")
    devices = tuple(lits["DEVICES"])
    bad = [d for d in devices if d not in KNOWN_DEVICES]
    if bad:
        raise PairError(f"{path}:1:1: unknown device {bad[0]!r} in DEVICES — use 'cpu' and/or 'cuda'")
    return PairSpec(
        code=(code or lits.get("CODE") or (path.parent.name if path.name == "pair.py" else path.stem)).upper(),
        path=path,
        default_sizes=dict(lits["DEFAULT_SIZES"]),
        tolerance=dict(lits["TOLERANCE"]),
        devices=devices,
        metric=str(lits.get("METRIC", "time")),
        source_hash=_source_hash(path, text),
        doc=ast.get_docstring(tree) or "",
        count_sizes=dict(lits.get("COUNT_SIZES", {})),
        not_counted=str(lits.get("NOT_COUNTED", "")),
    )


def all_pairs() -> dict[str, PairSpec]:
    """Every shipped pair by rule code, in code order: each rule's `advNNN/pair.py`, when it has one."""
    from advisor.rule import all_rules

    out: dict[str, PairSpec] = {}
    for rule in all_rules():
        path = rule.pair_path()
        if path is not None:
            out[rule.code] = load_spec(path, rule.code)
    return out


def pair_for(code: str) -> PairSpec | None:
    return all_pairs().get(code.upper())
