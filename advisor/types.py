"""The data every stage shares: findings, errors, fixes and verification results.

Frozen dataclasses so a reporter can never re-derive or mutate what the engine found; every output
format (text, JSON, SARIF, GitHub, HTML) is rendered from these and nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How much a finding is likely to cost: `warning` wastes time every step, `info` is advice."""

    WARNING = "warning"
    INFO = "info"


class Confidence(str, Enum):
    """How sure the rule is that the code does what it thinks (not how big the gain is)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Span:
    """A source region. Lines and columns are 1-based; `end_column` points one past the last character."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class Edit:
    """Replace the characters `[start, end)` of the file's text with `replacement`."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class Fix:
    """An autofix. `safe` fixes keep behaviour identical and are applied by `--fix`; others need
    `--unsafe-fixes`. `diff` is the unified diff of applying it, filled by the engine (which holds the
    text) so that reports rendered later from saved JSON can still show it."""

    description: str
    safe: bool
    edits: tuple[Edit, ...]
    diff: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "safe": self.safe, "edits": [asdict(e) for e in self.edits], "diff": self.diff}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Fix":
        return cls(
            description=data["description"],
            safe=bool(data["safe"]),
            edits=tuple(Edit(**e) for e in data.get("edits", ())),
            diff=data.get("diff", ""),
        )


@dataclass(frozen=True)
class Excerpt:
    """The source lines around a finding, taken at scan time so a report rendered later from saved JSON
    (a CI artifact, the files long gone) still shows the code. `first_line` numbers `lines[0]` the way the
    finding's span does (within the cell for notebooks)."""

    first_line: int
    lines: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"first_line": self.first_line, "lines": list(self.lines)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Excerpt":
        return cls(first_line=int(data["first_line"]), lines=tuple(str(line) for line in data["lines"]))


@dataclass(frozen=True)
class Measurement:
    """One side (before or after) of a timed pair."""

    median_s: float
    iqr_s: float
    runs: int


@dataclass(frozen=True)
class Verification:
    """What the verifier measured for one rule's before/after pair on one device.

    `speedup` is None whenever no gain may be claimed: not equivalent, failed, skipped, or the
    difference lies within the noise; `status` then says which.
    """

    code: str
    device: str
    status: str  # "measured" | "no-significant-gain" | "not-equivalent" | "failed" | "skipped"
    equivalent: bool | None
    sizes: dict[str, Any]
    sizes_source: str  # "defaults" | "user code"
    before: Measurement | None = None
    after: Measurement | None = None
    speedup: float | None = None
    speedup_low: float | None = None
    speedup_high: float | None = None
    detail: str = ""
    device_name: str = ""
    metric: str = "time"  # "time", or "loss" for pairs that measure quality (ADV301)
    extra: dict[str, Any] = field(default_factory=dict)
    # `--count-instructions`: {"tool", "before", "after", "ratio", "sizes", "detail"}; counts are None
    # and `detail` says why when nothing was counted. None when counting was not asked for.
    instructions: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verification":
        """The one reader of saved results: the verifier's cache and `advisor report` both use it."""
        fields = dict(data)
        for side in ("before", "after"):
            if fields.get(side) is not None:
                fields[side] = Measurement(**fields[side])
        return cls(**fields)


RUNTIME_STATUSES = ("confirmed", "minor", "not-observed", "cannot-observe", "runtime-only")


def _finite(value: Any, what: str) -> float:
    """A saved run is untrusted input: numbers must be real, finite and non-negative."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise ValueError(f"{what} is not a non-negative number")
    return float(value)


def _optional(value: Any, what: str) -> float | None:
    return None if value is None else _finite(value, what)


@dataclass(frozen=True)
class RuntimeEvidence:
    """What `advisor profile` saw of a finding in the user's own run.

    `status`: confirmed (seen, with figures), minor (seen, but a small share of the step), not-observed
    (the profiled steps never ran it), cannot-observe (this device cannot show it, `detail` says why), or
    runtime-only (seen at runtime where the scan reported nothing). `share` is an estimate of the step
    time it costs, from the profiled steps (None when nothing could be timed)."""

    status: str
    detail: str
    device: str
    per_step: float | None = None
    share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RuntimeEvidence":
        if data.get("status") not in RUNTIME_STATUSES:
            raise ValueError(f"unknown runtime status {data.get('status')!r}")
        share = _optional(data.get("share"), "share")
        return cls(
            status=str(data["status"]),
            detail=str(data.get("detail", "")),
            device=str(data.get("device", "")),
            per_step=_optional(data.get("per_step"), "per_step"),
            share=min(share, 1.0) if share is not None else None,
        )


@dataclass(frozen=True)
class ProfileStep:
    """One profiled step interval (from one optimizer step to the next), split into what was timed;
    `compute_s` is the rest (forward, backward and everything else)."""

    total_s: float
    data_s: float
    optimizer_s: float
    sync_s: float
    copy_s: float
    samples: int | None = None

    @property
    def compute_s(self) -> float:
        return max(0.0, self.total_s - self.data_s - self.optimizer_s - self.sync_s - self.copy_s)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProfileStep":
        samples = data.get("samples")
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 0):
            raise ValueError("samples is not a count")
        times = {k: _finite(data.get(k), k) for k in ("total_s", "data_s", "optimizer_s", "sync_s", "copy_s")}
        return cls(**times, samples=samples)


@dataclass(frozen=True)
class ProfileLoop:
    """One profiled training loop: the steps at one call site of `optimizer.step()` (or, for a script
    that never steps, `kind` "time": a few seconds of it)."""

    site: str
    kind: str
    steps: tuple[ProfileStep, ...]
    facts: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "kind": self.kind, "steps": [s.to_dict() for s in self.steps], "facts": [list(f) for f in self.facts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProfileLoop":
        facts = tuple((str(k), str(v)) for k, v in data.get("facts", ()))
        return cls(site=str(data["site"]), kind=str(data["kind"]), steps=tuple(ProfileStep.from_dict(s) for s in data.get("steps", ())), facts=facts)


@dataclass(frozen=True)
class ProfileRun:
    """An `advisor profile` run: where it ran, how it ended, its loops, torch's pattern matcher's
    reports and notes on what this device could not show."""

    script: str
    args: tuple[str, ...]
    device: str
    device_name: str
    torch: str
    ended: str
    elapsed_s: float
    total_steps: int
    loops: tuple[ProfileLoop, ...] = ()
    patterns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["loops"] = [loop.to_dict() for loop in self.loops]
        data["args"], data["patterns"], data["notes"] = list(self.args), list(self.patterns), list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProfileRun":
        steps = data.get("total_steps", 0)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError("total_steps is not a count")
        return cls(
            script=str(data["script"]),
            args=tuple(str(a) for a in data.get("args", ())),
            device=str(data.get("device", "")),
            device_name=str(data.get("device_name", "")),
            torch=str(data.get("torch", "")),
            ended=str(data.get("ended", "")),
            elapsed_s=_finite(data.get("elapsed_s", 0.0), "elapsed_s"),
            total_steps=steps,
            loops=tuple(ProfileLoop.from_dict(loop) for loop in data.get("loops", ())),
            patterns=tuple(str(p) for p in data.get("patterns", ())),
            notes=tuple(str(n) for n in data.get("notes", ())),
        )


@dataclass(frozen=True)
class Finding:
    """One anti-pattern at one place. `cell` is the notebook cell index (0-based) or None for .py files."""

    code: str
    name: str
    path: str
    span: Span
    message: str
    why: str
    suggestion: str
    severity: Severity
    confidence: Confidence
    fix: Fix | None = None
    cell: int | None = None
    verifications: tuple[Verification, ...] = ()
    excerpt: Excerpt | None = None
    # Facts a rule attaches for later stages, e.g. "transposed": the verifier must not run this code as `A @ B`.
    tags: tuple[str, ...] = ()
    # What `advisor profile` saw of this finding in the user's own run; None outside a profile run.
    runtime: RuntimeEvidence | None = None

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def column(self) -> int:
        return self.span.column

    def with_verifications(self, results: tuple[Verification, ...]) -> "Finding":
        return replace(self, verifications=results)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (documented in docs/json-format.md); every reporter starts from this."""
        data: dict[str, Any] = {
            "code": self.code,
            "name": self.name,
            "path": self.path,
            "cell": self.cell,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "message": self.message,
            "why": self.why,
            "suggestion": self.suggestion,
            "severity": self.severity.value,
            "confidence": self.confidence.value,
            "fix": self.fix.to_dict() if self.fix is not None else None,
            "verifications": [v.to_dict() for v in self.verifications],
            "excerpt": self.excerpt.to_dict() if self.excerpt is not None else None,
            "tags": list(self.tags),
        }
        if self.runtime is not None:
            data["runtime"] = self.runtime.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Finding":
        """Inverse of `to_dict`, for `advisor report`: a saved run comes back as the same model."""
        return cls(
            code=data["code"],
            name=data["name"],
            path=data["path"],
            span=Span(int(data["line"]), int(data["column"]), int(data["end_line"]), int(data["end_column"])),
            message=data["message"],
            why=data["why"],
            suggestion=data["suggestion"],
            severity=Severity(data["severity"]),
            confidence=Confidence(data["confidence"]),
            fix=Fix.from_dict(data["fix"]) if data.get("fix") else None,
            cell=data.get("cell"),
            verifications=tuple(Verification.from_dict(v) for v in data.get("verifications", ())),
            excerpt=Excerpt.from_dict(data["excerpt"]) if data.get("excerpt") else None,
            tags=tuple(str(t) for t in data.get("tags", ())),
            runtime=RuntimeEvidence.from_dict(data["runtime"]) if data.get("runtime") else None,
        )


@dataclass(frozen=True)
class FileError:
    """A file that could not be analysed; the rest of the run goes on."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FileError":
        return cls(path=str(data["path"]), message=str(data["message"]))


@dataclass
class ScanResult:
    """Everything one `advisor scan` produced, in a stable order (path, line, column, code)."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_scanned: int = 0
    lines_scanned: int = 0
    # Where the run happened (python, advisor, torch, numpy, cpu, gpu, date): filled by the CLI for the
    # formats that show it, from package metadata only, so the scan never imports torch.
    environment: dict[str, str] = field(default_factory=dict)
    # `advisor profile`: the run the findings' runtime evidence comes from; None for a plain scan.
    profile: ProfileRun | None = None

    def sort(self) -> None:
        self.findings.sort(key=lambda f: (f.path, f.cell or 0, f.span.line, f.span.column, f.code))
        self.errors.sort(key=lambda e: e.path)
