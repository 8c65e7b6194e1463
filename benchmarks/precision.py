"""Precision on real training code: scan a corpus of public scripts, join the findings with our labels.

Run: python benchmarks/precision.py /path/to/corpus [--markdown table.md] [--strict] [--config pyproject.toml]

The corpus is a folder of `<project>/<path inside the project>` copies (never committed; its
MANIFEST.tsv says which commit each file came from). Labels are ours and live beside this script:
`precision_labels.tsv` (project, path, line, code, label true/false, reason) says whether each finding
is right; `precision_misses.tsv` (project, path, line, code, status open/fixed, reason) records what a rule
should have reported and did not, and whether a later change made it report it. A finding without a label is printed so the table can never silently drift from
the code; a label whose finding is gone is printed as a fixed false alarm or a lost true finding.
`--strict` exits 1 on unlabeled findings or lost true findings.

`--config FILE` scans with that pyproject.toml's [tool.advisor] (passed to `advisor scan --config`). A label
may name, in an optional last column `enabled_by`, the rule option that turns its finding on
(`ADV301.gans=true`): the rule's documented default leaves that finding silent on purpose, so when the
configuration does not set that option its absence is printed as SILENT BY DEFAULT, not as a lost true
finding; with the option set, its absence is a lost finding like any other.

Recall mode (`--expected FILE`): the file lists what the core rules SHOULD report on the corpus (project,
path, line, code, reason), written by reading every file before the rules were changed. A finding of a
labelled rule that matches a row is found; one that matches no row is a false alarm; a row that no finding
matches is a miss (still counted when its `enabled_by` option is off, and marked so). The table gives
recall and precision per rule, then every miss and false alarm.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
Key = tuple[str, str, int, str]  # project, path inside the project, line, code
OPTION = re.compile(r"ADV\d{3}\.[a-z][a-z0-9-]*=\S+")  # how `enabled_by` names a rule option: CODE.option=value


@dataclass(frozen=True)
class Label:
    true: bool
    reason: str
    enabled_by: str = ""  # the option that turns the finding on; "" when the default run reports it


@dataclass(frozen=True)
class RuleRow:
    code: str
    findings: int
    true: int
    false: int
    unlabeled: int
    misses: int
    misses_fixed: int

    @property
    def precision(self) -> float | None:
        labelled = self.true + self.false
        return self.true / labelled if labelled else None


def scan(corpus: Path, config: Path | None = None) -> tuple[list[Key], list[str]]:
    """Findings of every rule as (project, path, line, code), and the files that could not be analysed."""
    extra = [] if config is None else ["--config", str(config.resolve())]
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "scan", str(corpus), "--format", "json", "--exit-zero", "--no-gitignore", *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if not proc.stdout.strip():
        raise SystemExit(f"advisor scan produced no output: {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    keys = [(*_split(corpus, f["path"]), int(f["line"]), f["code"]) for f in report["findings"]]
    errors = [f"{e['path']}: {e['message']}" for e in report["errors"]]
    return keys, errors


def _split(corpus: Path, path: str) -> tuple[str, str]:
    rel = Path(path).resolve().relative_to(corpus.resolve())
    return rel.parts[0], Path(*rel.parts[1:]).as_posix()


def read_tsv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return [row for row in csv.DictReader(fh, delimiter="\t") if row.get("project")]


def _enabled_by(path: Path, row: dict[str, str], key: object) -> str:
    value = (row.get("enabled_by") or "").strip()
    if value and not OPTION.fullmatch(value):
        raise SystemExit(f"{path}: enabled_by must read CODE.option=value (ADV301.gans=true), got {value!r} for {key}")
    return value


def read_labels(path: Path) -> dict[Key, Label]:
    labels: dict[Key, Label] = {}
    for row in read_tsv(path):
        key = (row["project"], row["path"], int(row["line"]), row["code"])
        if row["label"] not in ("true", "false"):
            raise SystemExit(f"{path}: label must be true or false, got {row['label']!r} for {key}")
        labels[key] = Label(row["label"] == "true", row["reason"], _enabled_by(path, row, key))
    return labels


def enabled_options(config: Path | None) -> set[str]:
    """The rule options a configuration sets, spelled as `enabled_by` names them (`ADV301.gans=true`)."""
    if config is None:
        return set()
    with config.open("rb") as fh:
        table = tomllib.load(fh).get("tool", {}).get("advisor", {}).get("options", {})
    return {f"{code.upper()}.{key}={json.dumps(value)}" for code, values in table.items() for key, value in values.items()}


def table(findings: list[Key], labels: dict[Key, Label], misses: list[dict[str, str]]) -> list[RuleRow]:
    codes = sorted({k[3] for k in findings} | {m["code"] for m in misses} | {k[3] for k in labels})
    per_code: dict[str, Counter[str]] = {c: Counter() for c in codes}
    for key in findings:
        counts = per_code[key[3]]
        counts["findings"] += 1
        label = labels.get(key)
        counts["unlabeled" if label is None else ("true" if label.true else "false")] += 1
    for miss in misses:
        per_code[miss["code"]]["misses"] += 1
        per_code[miss["code"]]["misses_fixed"] += miss["status"] == "fixed"
    return [
        RuleRow(c, n["findings"], n["true"], n["false"], n["unlabeled"], n["misses"], n["misses_fixed"])
        for c, n in per_code.items()
    ]


def markdown(rows: list[RuleRow]) -> str:
    out = [
        "| rule | findings | true | false | unlabeled | precision | misses seen (fixed since) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    fields = ("findings", "true", "false", "unlabeled", "misses", "misses_fixed")
    for r in [*rows, RuleRow("**all**", *(sum(getattr(r, f) for r in rows) for f in fields))]:
        p = "–" if r.precision is None else f"{r.precision:.2f}"
        out.append(f"| {r.code} | {r.findings} | {r.true} | {r.false} | {r.unlabeled} | {p} | {r.misses} ({r.misses_fixed}) |")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class RecallRow:
    code: str
    expected: int
    found: int
    findings: int
    false: int

    @property
    def recall(self) -> float | None:
        return self.found / self.expected if self.expected else None

    @property
    def precision(self) -> float | None:
        return (self.findings - self.false) / self.findings if self.findings else None


def read_expected(path: Path) -> dict[Key, str]:
    """What the core rules should report, each with the option that turns it on ("" for the default run)."""
    out: dict[Key, str] = {}
    for row in read_tsv(path):
        key = (row["project"], row["path"], int(row["line"]), row["code"])
        out[key] = _enabled_by(path, row, key)
    return out


def recall_table(findings: list[Key], expected: set[Key] | dict[Key, str], codes: set[str]) -> list[RecallRow]:
    """Per rule in `codes`: labels, labels found, findings and findings matching no label."""
    found = set(findings)
    rows = []
    for code in sorted(codes):
        exp = {k for k in expected if k[3] == code}
        mine = [k for k in findings if k[3] == code]
        rows.append(RecallRow(code, len(exp), len(exp & found), len(mine), sum(k not in exp for k in mine)))
    return rows


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def recall_markdown(rows: list[RecallRow]) -> str:
    out = ["| rule | labels | found | missed | findings | false | recall | precision |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    total = RecallRow("**all**", *(sum(getattr(r, f) for r in rows) for f in ("expected", "found", "findings", "false")))
    for r in [*rows, total]:
        out.append(
            f"| {r.code} | {r.expected} | {r.found} | {r.expected - r.found} | {r.findings} | {r.false} "
            f"| {_ratio(r.recall)} | {_ratio(r.precision)} |"
        )
    return "\n".join(out) + "\n"


CORE = frozenset({"ADV101", "ADV102", "ADV103", "ADV201", "ADV202", "ADV203", "ADV204", "ADV301", "ADV302", "ADV401"})


def recall_main(args: argparse.Namespace) -> int:
    findings, errors = scan(args.corpus, args.config)
    expected = read_expected(args.expected)
    enabled = enabled_options(args.config)
    rows = recall_table(findings, expected, set(CORE))
    text = recall_markdown(rows)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    found = set(findings)
    for k in sorted(set(expected) - found):
        off = expected[k] and expected[k] not in enabled
        print(f"MISSED {k[0]}/{k[1]}:{k[2]} {k[3]}" + (f" (silent by default; enabled by {expected[k]})" if off else ""))
    for k in sorted({k for k in findings if k[3] in CORE and k not in expected}):
        print(f"FALSE {k[0]}/{k[1]}:{k[2]} {k[3]}")
    for k in sorted({k for k in findings if k[3] not in CORE}):
        print(f"OTHER RULE {k[0]}/{k[1]}:{k[2]} {k[3]}")
    for e in errors:
        print(f"NOT ANALYSED {e}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--labels", type=Path, default=HERE / "precision_labels.tsv")
    ap.add_argument("--misses", type=Path, default=HERE / "precision_misses.tsv")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    ap.add_argument("--strict", action="store_true", help="exit 1 on unlabeled findings or lost true findings")
    ap.add_argument("--expected", type=Path, help="recall mode: what the core rules should report (see above)")
    ap.add_argument("--config", type=Path, help="scan with this pyproject.toml's [tool.advisor] (rule options)")
    args = ap.parse_args(argv)
    if args.expected:
        return recall_main(args)

    findings, errors = scan(args.corpus, args.config)
    enabled = enabled_options(args.config)
    labels = read_labels(args.labels)
    misses = read_tsv(args.misses)
    rows = table(findings, labels, misses)
    text = markdown(rows)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")

    unlabeled = sorted(k for k in findings if k not in labels)
    gone = sorted(k for k in labels if k not in set(findings))
    # A finding whose option this run leaves off is silent by the rule's documented default, neither lost
    # nor fixed; otherwise a false alarm that no longer fires was fixed and a true finding was lost.
    silent = [k for k in gone if labels[k].enabled_by and labels[k].enabled_by not in enabled]
    lost = [k for k in gone if labels[k].true and k not in silent]
    for k in unlabeled:
        print(f"UNLABELED {k[0]}/{k[1]}:{k[2]} {k[3]}")
    for k in gone:
        label = labels[k]
        if k in silent:
            print(f"SILENT BY DEFAULT {k[0]}/{k[1]}:{k[2]} {k[3]} (enabled by {label.enabled_by}) — {label.reason}")
            continue
        state = "LOST TRUE FINDING" if label.true else "FIXED FALSE ALARM"
        print(f"{state} {k[0]}/{k[1]}:{k[2]} {k[3]} — {label.reason}")
    for e in errors:
        print(f"NOT ANALYSED {e}")
    for k in sorted(k for k in findings if k in labels and not labels[k].true):
        print(f"FALSE {k[0]}/{k[1]}:{k[2]} {k[3]} — {labels[k].reason}")
    return 1 if args.strict and (unlabeled or lost) else 0


if __name__ == "__main__":
    raise SystemExit(main())
