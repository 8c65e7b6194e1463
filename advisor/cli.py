"""The `advisor` command line. Exit codes: 0 clean, 1 findings, 2 usage/config error or a file that
could not be analysed."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from advisor import __version__
from advisor.cli_params import SECONDS
from advisor.config import Config, ConfigError, find_pyproject, load_config, parse_size
from advisor.report import FORMATS, render
from advisor.rule import Rule, is_known_code, rules_by_code
from advisor.types import Severity

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FAIL_ON = ("info", "warning")  # severities from least to most severe
# Formats that record where the run happened (versions, CPU, GPU, date).
WITH_ENVIRONMENT = ("json", "sarif", "html")


def _split_codes(values: tuple[str, ...], option: str) -> list[str]:
    codes = [c.strip().upper() for v in values for c in v.split(",") if c.strip()]
    unknown = [c for c in codes if not is_known_code(c)]
    if unknown:
        raise click.UsageError(f"{option}: unknown rule code {', '.join(unknown)} — run `advisor rules` for the list")
    return codes


def _load_config(config_path: str | None, paths: tuple[str, ...]) -> Config:
    if config_path:
        return load_config(Path(config_path))
    start = Path(os.path.commonpath([os.path.abspath(p) for p in paths])) if paths else Path.cwd()
    while not start.exists() and start != start.parent:
        start = start.parent
    return load_config(find_pyproject(start))


def _write(text: str, output: str | None, color: bool = False) -> None:
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            click.echo(f"advisor: error: cannot write {output} ({exc.strerror or exc}) — check that its folder exists "
                       "and has space, or choose another -o path", err=True)
            sys.exit(EXIT_ERROR)
    else:
        try:
            click.echo(text, nl=False, color=color or None)
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # `advisor scan | head`: the reader left; handled where the command ends
        except OSError as exc:  # a full disk or /dev/full behind a redirect: the report is lost, say so
            click.echo(f"advisor: error: cannot write the report to standard output ({exc.strerror or exc})", err=True)
            sys.exit(EXIT_ERROR)


# Where `scan --debug` leaves its choice for the command group's catch-all (click's shared context meta).
DEBUG_KEY = "advisor.debug"


class _Main(click.Group):
    """Any unexpected exception in any command exits 2 with one line (1 means "findings")."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, BrokenPipeError):
            raise
        except Exception as exc:
            from advisor.guard import exit_internal_error

            exit_internal_error(ctx.invoked_subcommand or "", exc, bool(ctx.meta.get(DEBUG_KEY)))


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    try:
        return None if value is None else parse_size(value, "--max-file-size")
    except ConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("--max-file-size ")) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="advisor")
def main() -> None:
    """Find performance anti-patterns in PyTorch/NumPy training code, and measure the fix."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Only these codes or prefixes (comma-separated), e.g. ADV1,ADV401.")
@click.option("--extend-select", multiple=True, help="Add these codes or prefixes to the selection (comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these codes or prefixes (comma-separated).")
@click.option(
    "--format", "--output-format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True,
    help="text: findings with fix hints and a summary; concise: one line per finding; json, sarif, github, html: reports.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to FILE instead of stdout.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported (errors still exit 2).")
@click.option(
    "--fail-on", type=click.Choice(FAIL_ON), default="info", show_default=True,
    help="Lowest severity that makes the exit code 1: info (any finding) or warning (the pre-commit hook's default).",
)
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True, help="Colour the text output (auto: on a terminal, unless NO_COLOR is set).")
@click.option("--statistics", is_flag=True, help="Show how many findings each rule produced.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Parallel worker processes [default: CPU count].")
@click.option("--exclude", multiple=True, help="Glob of files or folders to skip (repeatable), on top of the defaults.")
@click.option("--max-file-size", callback=_size, metavar="SIZE", help="Skip files bigger than this (e.g. 2MB) with a per-file error [default: 1MB, or max-file-size in [tool.advisor]].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Read [tool.advisor] from this pyproject.toml.")
@click.option("--no-gitignore", is_flag=True, help="Scan files that .gitignore excludes.")
@click.option("--force-exclude", is_flag=True, help="Apply --exclude and the configured excludes to files named explicitly too (for pre-commit).")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only: no fix hints, no summary.")
@click.option("--debug", is_flag=True, help="Show tracebacks for internal errors.")
@click.option("--verify", "verify", is_flag=True, help="Measure each fired rule's before/after pair here and attach the result (needs advisor[verify]).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "all"]), default="auto", show_default=True, help="Where --verify measures.")
@click.option("--timeout", type=SECONDS, default=60.0, show_default=True, help="Seconds each --verify pair may run.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write caches: re-analyse unchanged files and re-measure --verify pairs.")
@click.option("--verify-user-code", is_flag=True, help="With --verify: also time the flagged functions themselves (matrix products, element-wise loops), lifted from the scanned files (runs their code; proven pure first, isolated child).")
@click.option("--count-instructions", is_flag=True, help="With --verify: also count one call of each side of CPU pairs under valgrind's callgrind (repeatable in CI).")
@click.option("--fix", "apply_fixes", is_flag=True, help="Apply safe fixes in place, then report what is left.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes that may change results or types (implies --fix).")
@click.option("--diff", "show_diff", is_flag=True, help="Print the fixes as a unified diff and write nothing; exit 1 if there is one.")
def scan(
    paths: tuple[str, ...],
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    fmt: str,
    output: str | None,
    exit_zero: bool,
    fail_on: str,
    color: str,
    statistics: bool,
    jobs: int | None,
    exclude: tuple[str, ...],
    max_file_size: int | None,
    config_path: str | None,
    no_gitignore: bool,
    force_exclude: bool,
    quiet: bool,
    debug: bool,
    verify: bool,
    device: str,
    timeout: float,
    no_cache: bool,
    count_instructions: bool,
    verify_user_code: bool,
    apply_fixes: bool,
    unsafe_fixes: bool,
    show_diff: bool,
) -> None:
    """Scan PATHS (files or folders, default `.`) for performance anti-patterns."""
    from advisor.discover import discover
    from advisor.engine import scan as run_scan

    paths = paths or (".",)
    try:
        loaded = _load_config(config_path, paths)
    except ConfigError as exc:
        click.echo(f"advisor: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    config = loaded.with_command_line(
        _split_codes(select, "--select") or None, _split_codes(ignore, "--ignore") if ignore else [], debug,
        extend_select=_split_codes(extend_select, "--extend-select") if extend_select else [],
    )
    click.get_current_context().meta[DEBUG_KEY] = config.debug  # for the command group's catch-all
    if max_file_size is not None:
        config = replace(config, max_file_size=max_file_size)
    files, errors = discover(
        list(paths), config.exclude + exclude, respect_gitignore=config.respect_gitignore and not no_gitignore, force_exclude=force_exclude
    )
    if not files and not errors and not force_exclude and any(Path(p).is_dir() for p in paths):
        # Say why a scan of a folder saw nothing: a clean result over zero files would mislead.
        click.echo(
            f"advisor: warning: no Python files or notebooks to scan under {', '.join(paths)} after excludes and "
            ".gitignore — pass --no-gitignore or check [tool.advisor] exclude",
            err=True,
        )
    if show_diff:
        sys.exit(_diff_only(files, errors, config, unsafe_fixes, output))
    fix_errors = _apply_fixes(files, config, unsafe_fixes, quiet, paths) if apply_fixes or unsafe_fixes else []
    from advisor.scan_cache import ScanCache

    from advisor.progress import Progress

    with Progress("scanning", len(files)) as progress:  # draws only on a terminal, and only if it takes a while
        result = run_scan(files, config, jobs=jobs, cache=None if no_cache else ScanCache(), progress=progress.finish)
    result.errors.extend(errors)
    reported = {e.path for e in result.errors}  # a file the scan could not read either is reported once
    result.errors.extend(e for e in fix_errors if e.path not in reported)
    result.sort()
    if verify or verify_user_code:
        from advisor.guard import internal_errors_exit_2
        from advisor.verify.command import attach_verifications, run_options

        with internal_errors_exit_2("scan --verify", config.debug):
            result = attach_verifications(result, device, run_options(timeout, no_cache, count_instructions, verify_user_code))
    if fmt in WITH_ENVIRONMENT:
        from advisor.environment import run_environment

        result.environment = run_environment(result)
    options: dict[str, Any] = {"statistics": statistics, "quiet": quiet, "color": fmt == "text" and _use_color(color, output)}
    _write(render(fmt, result, **options), output, color=options["color"])
    if fmt in ("text", "concise"):
        for err in result.errors:
            click.echo(f"{err.path}: error: {err.message}", err=True)
    if result.errors:
        sys.exit(EXIT_ERROR)
    if not exit_zero and any(fails(f.severity, fail_on) for f in result.findings):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


main.add_command(scan, name="check")  # Ruff's habit: `advisor check src/`


def fails(severity: Severity, fail_on: str) -> bool:
    """A finding sets exit code 1 when its severity is at or above `--fail-on`."""
    return FAIL_ON.index(severity.value) >= FAIL_ON.index(fail_on)


def _use_color(choice: str, output: str | None) -> bool:
    """ANSI colour for text written to a terminal; never into a file or a pipe unless asked."""
    if choice != "auto":
        return choice == "always"
    return output is None and "NO_COLOR" not in os.environ and sys.stdout.isatty()


@main.command("report")
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to FILE instead of stdout.")
@click.option("--source-root", type=click.Path(file_okay=False, exists=True), default=None,
              help="For findings saved without code excerpts: read their files, but only those under DIR.")
@click.option("-q", "--quiet", is_flag=True, help="Text: findings and their measurements only, no fix hints or summary.")
def report(results: str, fmt: str, output: str | None, source_root: str | None, quiet: bool) -> None:
    """Render a saved `advisor scan --format json` run (e.g. a CI artifact) without scanning again."""
    from advisor.report.load import ReportInputError, load_result

    try:
        result = load_result(Path(results), Path(source_root) if source_root else None)
    except ReportInputError as exc:
        click.echo(f"advisor: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    _write(render(fmt, result, quiet=quiet), output)


def _apply_fixes(files: list[Path], config: Config, unsafe: bool, quiet: bool, paths: tuple[str, ...]) -> list[Any]:
    """Fix every file in place; say on stderr what changed. Returns the files that could not be fixed."""
    from advisor.fixer import fix_file
    from advisor.safe_write import roots_for

    roots = roots_for(list(paths))
    errors, fixed, changed = [], 0, 0
    for path in files:
        outcome = fix_file(path, config, unsafe=unsafe, roots=roots)
        if outcome.error is not None:
            errors.append(outcome.error)
        if outcome.changed:
            changed += 1
            fixed += len(outcome.fixed)
    if not quiet and (fixed or changed):
        click.echo(f"Fixed {fixed} finding{'s' if fixed != 1 else ''} in {changed} file{'s' if changed != 1 else ''}.", err=True)
    return errors


def _diff_only(files: list[Path], errors: list[Any], config: Config, unsafe: bool, output: str | None) -> int:
    """`--diff`: the unified diff of every fix, nothing written. 1 if there is a diff, 2 on errors."""
    from advisor.fixer import fix_file

    diffs = []
    for path in files:
        outcome = fix_file(path, config, unsafe=unsafe, write=False)
        if outcome.error is not None:
            errors.append(outcome.error)
        diffs.append(outcome.diff)
    _write("".join(diffs), output)
    for err in errors:
        click.echo(f"{err.path}: error: {err.message}", err=True)
    if errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if any(diffs) else EXIT_CLEAN


@main.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True, help="markdown: the README's rules table.")
def list_rules(fmt: str) -> None:
    """List every rule by family, with its code, name and one-line summary."""
    if fmt == "markdown":
        from advisor.docs_gen import rules_table

        click.echo(rules_table())
        return
    from advisor.rule import family_summary

    families: dict[str, list[type[Rule]]] = {}
    for rule in rules_by_code().values():
        families.setdefault(rule.family(), []).append(rule)
    for i, (family, rules) in enumerate(families.items()):
        click.echo(("\n" if i else "") + f"{family}: {family_summary(family)}")
        for rule in rules:
            fix = {None: "", True: "  [fix]", False: "  [unsafe fix]"}[rule.fix_safe]
            click.echo(f"{rule.code}  {rule.name:<32} {rule.summary}{fix}")


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Explain a rule, by code or name (ADV301, fixed-learning-rate): what it does, why it is slow, an example
    and what to use instead."""
    wanted = code.strip()
    rules = rules_by_code()
    rule = rules.get(wanted.upper()) or next((r for r in rules.values() if r.name == wanted.lower()), None)
    if rule is None:
        click.echo(f"advisor: error: unknown rule {code} — run `advisor rules` for the codes and names", err=True)
        sys.exit(EXIT_ERROR)
    from advisor.explain import explain_text

    click.echo(explain_text(rule))


@main.command()
@click.argument("codes", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "all"]), default="auto", show_default=True, help="auto: the CPU, plus CUDA when present.")
@click.option("--timeout", type=SECONDS, default=60.0, show_default=True, help="Seconds each pair may run before it is stopped.")
@click.option("--no-cache", is_flag=True, help="Re-measure instead of reusing cached results.")
@click.option("--count-instructions", is_flag=True, help="Also count one call of each side of CPU pairs under valgrind's callgrind (repeatable in CI).")
def verify(codes: tuple[str, ...], fmt: str, device: str, timeout: float, no_cache: bool, count_instructions: bool) -> None:
    """Measure the before/after pairs of CODES (default: all) on this machine."""
    from advisor.verify.command import run_options, run_verify

    code = run_verify([c.strip().upper() for v in codes for c in v.split(",") if c.strip()], device, run_options(timeout, no_cache, count_instructions), fmt)
    sys.exit(code)


@main.command("profile")
@click.argument("script", type=click.Path(dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--steps", type=click.IntRange(min=1, max=1000), default=10, show_default=True, help="Optimizer steps timed per training loop.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="cpu hides CUDA from the script; cuda fails when there is none.")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to FILE instead of stdout.")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True, help="Seconds the script may run in all before it is stopped.")
@click.option("--seconds", type=click.FloatRange(min=0.5), default=30.0, show_default=True, help="A script that has not stepped an optimizer after this long is profiled for this long (at most 5 s) instead.")
@click.option("--wait", type=click.FloatRange(min=0), default=10.0, show_default=True, help="After the last profiled loop, seconds to keep running for another loop to start.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported (errors still exit 2).")
def profile(script: str, script_args: tuple[str, ...], steps: int, device: str, fmt: str, output: str | None, timeout: float, seconds: float, wait: float, exit_zero: bool) -> None:
    """RUN the training SCRIPT (your code: it executes) under torch.profiler and join what happens with
    `advisor scan` of its files: each finding confirmed with runtime figures, not observed, or found
    only at runtime. Arguments after `--` go to the script. Needs torch (advisor[verify]).

    This is the only advisor command that executes code from your project: the script runs as
    `python SCRIPT ARGS` would, in your working folder, in a child process stopped after a few
    optimizer steps per training loop (or `--timeout`)."""
    from advisor.profile.command import profile as run_profile
    from advisor.profile.result import ProfileError
    from advisor.profile.runner import Request, ScriptFailed

    req = Request(Path(script), tuple(script_args), steps=steps, device=device, timeout_s=timeout, startup_s=seconds, window_s=min(5.0, seconds), linger_s=wait)
    try:
        result = run_profile(req)
    except ProfileError as exc:  # the user's problem, said in one line (a bug in advisor: the group's catch-all)
        click.echo(f"advisor: error: {exc}", err=True)
        if isinstance(exc, ScriptFailed) and exc.output:
            click.echo(exc.output.rstrip("\n"), err=True)
        sys.exit(EXIT_ERROR)
    if device == "cuda" and result.profile is not None and result.profile.device != "cuda":
        click.echo("advisor: error: --device cuda: torch in the script's process sees no CUDA device — use --device cpu or auto", err=True)
        sys.exit(EXIT_ERROR)
    if fmt in WITH_ENVIRONMENT:
        from advisor.environment import run_environment

        result.environment = run_environment(result)
    _write(render(fmt, result), output)
    if fmt in ("text", "concise"):
        for err in result.errors:
            click.echo(f"{err.path}: error: {err.message}", err=True)
    if result.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if result.findings and not exit_zero else EXIT_CLEAN)


@main.command()
def server() -> None:
    """Run the language server on stdin/stdout, for editors (needs advisor[lsp]; docs/editors.md)."""
    try:
        from advisor.server import start
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        click.echo("advisor: error: the language server needs pygls — pip install 'advisor[lsp]'", err=True)
        sys.exit(EXIT_ERROR)
    start()
