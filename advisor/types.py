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

    def sort(self) -> None:
        self.findings.sort(key=lambda f: (f.path, f.cell or 0, f.span.line, f.span.column, f.code))
        self.errors.sort(key=lambda e: e.path)
