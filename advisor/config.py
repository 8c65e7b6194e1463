"""`[tool.advisor]` in the nearest pyproject.toml, merged with the command line (which wins).

Unknown keys, codes and rule options are errors, never silently ignored: a typo in `ignore` that
turned a rule back on would look like a false alarm.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from advisor.rule import is_known_code, rules_by_code
from advisor.source import DEFAULT_MAX_FILE_SIZE

KNOWN_KEYS = (
    "select", "ignore", "extend-select", "extend-ignore", "exclude", "per-file-ignores", "options", "respect-gitignore",
    "max-file-size",
)
SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|k|mb|mib|m|gb|gib|g)?\s*", re.IGNORECASE)
UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ConfigError(Exception):
    """Bad configuration or arguments; the CLI prints it and exits 2."""


@dataclass(frozen=True)
class Config:
    """What to run and where, from pyproject plus the command line. Frozen: every layer that changes it
    (the command line, a notebook magic, the language server) makes a new one with `with_command_line`."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    respect_gitignore: bool = True
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # bytes; bigger files are skipped with a per-file error
    source: Path | None = None  # the pyproject.toml read, if any
    # `--debug`: an internal error re-raises with its traceback instead of becoming one file error.
    debug: bool = False

    def with_command_line(
        self, select: Sequence[str] | None, ignore: Sequence[str], debug: bool = False, extend_select: Sequence[str] = ()
    ) -> "Config":
        """This configuration with the command line's choices over it (a new Config; this one is kept).

        An explicit `--select` or `--extend-select` beats a configured `ignore` of the same rules;
        `--extend-select` adds to the selection (with no selection every rule runs already); `--ignore`
        adds to the configured ignores and beats both; `ALL` selects everything."""
        chosen, ignored = self.select, self.ignore
        if select:
            chosen = tuple(select)
        if extend_select and chosen is not None:
            chosen += tuple(extend_select)
        picked = tuple(select or ()) + tuple(extend_select)
        ignored = tuple(c for c in ignored if not any(s.startswith(c) or c.startswith(s) for s in picked))
        ignored += tuple(ignore)
        if chosen and "ALL" in chosen:
            chosen = None
        return replace(self, select=chosen, ignore=ignored, debug=self.debug or debug)

    def ignored_for(self, path: str) -> list[str]:
        """Codes ignored for one file through per-file-ignores (globs match the path or its name)."""
        posix = Path(path).as_posix()
        out: list[str] = []
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(posix, pattern) or fnmatch.fnmatch(Path(path).name, pattern) or fnmatch.fnmatch(
                posix, f"*/{pattern}"
            ):
                out.extend(codes)
        return out


def parse_size(value: Any, where: str) -> int:
    """A size in bytes from `2000000`, `"2MB"`, `"512 kB"` (units are powers of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"{where} must be a positive size, e.g. 2000000 or \"2MB\"")
    return int(float(match.group(1)) * UNITS[(match.group(2) or "b")[0].lower()])


def _read_toml(path: Path) -> dict[str, Any]:
    """A pyproject.toml as a dict, or a one-line ConfigError: a file we cannot read must never
    silently drop the user's settings. A UTF-8 BOM is accepted (editors add one)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc}) — fix the file or pass --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc}) — fix the file or pass --config") from None
    if not isinstance(data.get("tool", {}), dict):
        raise ConfigError(f"{path}: `tool` must be a table ([tool.NAME] sections) — fix the file or pass --config")
    return data


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a [tool.advisor] table. One that cannot
    be read on the way is an error: it might hold the settings the user expects."""
    start = start.resolve()
    for folder in [start, *start.parents] if start.is_dir() else [start.parent, *start.parent.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            if "advisor" in _read_toml(candidate).get("tool", {}):
                return candidate
    return None


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of rule codes, e.g. [\"ADV101\", \"ADV2\"]")
    codes = tuple(v.strip().upper() for v in value)
    unknown = [c for c in codes if not is_known_code(c)]
    if unknown:
        raise ConfigError(f"{where}: unknown rule code {', '.join(unknown)} — run `advisor rules` for the list")
    return codes


def load_config(pyproject: Path | None) -> Config:
    if pyproject is None:
        return Config()
    table = _read_toml(pyproject).get("tool", {}).get("advisor", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.advisor] must be a table")
    where = f"{pyproject}: [tool.advisor]"
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(f"{where} unknown key {', '.join(map(repr, unknown))} — expected one of {', '.join(KNOWN_KEYS)}")
    settings: dict[str, Any] = {"source": pyproject}
    select = _codes(table["select"], f"{where} select") if "select" in table else None
    if "extend-select" in table:
        extra = _codes(table["extend-select"], f"{where} extend-select")
        if select is not None:  # with no `select` every rule is selected already
            select += extra
    settings["select"] = select
    ignore = _codes(table["ignore"], f"{where} ignore") if "ignore" in table else ()
    if "extend-ignore" in table:  # Ruff's name for adding to `ignore`
        ignore += _codes(table["extend-ignore"], f"{where} extend-ignore")
    settings["ignore"] = ignore
    if "exclude" in table:
        value = table["exclude"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} exclude must be a list of glob patterns")
        settings["exclude"] = tuple(value)
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise ConfigError(f"{where} respect-gitignore must be true or false")
        settings["respect_gitignore"] = table["respect-gitignore"]
    if "max-file-size" in table:
        settings["max_file_size"] = parse_size(table["max-file-size"], f"{where} max-file-size")
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, dict):
            raise ConfigError(f"{where} per-file-ignores must be a table of glob = [codes]")
        settings["per_file_ignores"] = {k: _codes(v, f"{where} per-file-ignores.{k!r}") for k, v in pfi.items()}
    if "options" in table:
        settings["options"] = validate_options(table["options"], f"{where} options")
    return Config(**settings)


def validate_options(options: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(options, dict):
        raise ConfigError(f"{where} must be a table keyed by rule code")
    known = rules_by_code()
    out: dict[str, dict[str, Any]] = {}
    for code, values in options.items():
        rule = known.get(str(code).upper())
        if rule is None:
            raise ConfigError(f"{where}: unknown rule code {code} — run `advisor rules` for the list")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}.{code} must be a table of option = value")
        for key, value in values.items():
            if key not in rule.options:
                allowed = ", ".join(rule.options) or "none"
                raise ConfigError(f"{where}.{code}: unknown option {key!r} — {code} takes: {allowed}")
            default = rule.options[key]
            if not isinstance(value, type(default)) or isinstance(value, bool) != isinstance(default, bool):
                raise ConfigError(f"{where}.{code}.{key} must be {type(default).__name__}, got {type(value).__name__}")
        out[rule.code] = dict(values)
    return out


