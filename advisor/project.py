"""Facts that cross the files of one scan: which functions loops of other modules call every step, and
which DataLoaders other modules train on.

The scan is per file, in a pool of worker processes. Real projects put the per-step work one import
away (`from .utils import helper` called in `train.py`'s loop; a loader built in `data.py` and iterated
in `trainer.py`), so before the pool starts this pre-pass gives each file what other files say about
it. It is built to cost nothing in the common case: a one-file scan skips it, a cheap text check picks
the few files that could say something (a training step and an import of another scanned module, or an
import of a module that builds a DataLoader), and only those are parsed here (once more than in the
pool). Everything else is read as text only. A file it cannot read or parse says nothing here; the
per-file scan reports its error.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import libcst as cst

from advisor.callgraph import Repeat, call_graph
from advisor.context import FileContext, build_context
from advisor.syntax import dotted_name
from advisor.rules._elsewhere import LoaderElsewhere, summarise_loaders
from advisor.source import SourceError, decode, display_path, read_bytes

if TYPE_CHECKING:
    from advisor.config import Config

# `from x import a, b` / `from . import a` / `import x.y as z, w` at the start of a line.
IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\(?([\w., \t]*)|import[ \t]+([\w., \t]+))", re.M)
GRAD_OFF = ("no_grad", "inference_mode")
# Text of a training step: a backward pass or an optimizer-like `.step(` (not `scheduler.step(`, `env.step(`).
STEP_TEXT = re.compile(r"backward\(|optim\w*\.step\(|\bopt\w*\.step\(|scaler\.step\(|scaler\(\s*loss")
TOP_DEF = re.compile(r"^def[ \t]+(\w+)[ \t]*\(", re.M)
TOP_LEVEL = re.compile(r"^(?=[^\s#)\]}])", re.M)
MAX_SUFFIX = 8  # a module is imported by at most this many trailing path parts


@dataclass(frozen=True)
class ExternalFacts:
    """What the other files of the scan say about one file. Keys name its module-level functions
    (`helper`), methods (`Net.forward`) and, for loaders, what a function returns (`get_loaders`, or
    element 0 of the tuple it returns: `get_loaders#0`)."""

    repeats: tuple[tuple[str, Repeat], ...] = ()
    loaders: tuple[tuple[str, LoaderElsewhere], ...] = ()

    def loader_uses(self, key: str) -> list[LoaderElsewhere]:
        return [use for k, use in self.loaders if k == key]

    def fingerprint(self) -> str:
        """Stable text of these facts, for the scan cache's key: a file's findings depend on them."""
        reps = sorted((k, r.elsewhere or "", r.gated, r.training, r.steps, r.hops) for k, r in self.repeats)
        return repr((reps, sorted(self.loaders, key=repr)))

    def __bool__(self) -> bool:
        return bool(self.repeats or self.loaders)


# ---------------------------------------------------------------------------------------------- modules
class Modules:
    """The scanned files as importable modules: `a/b/c.py` is `c`, `b.c` or `a.b.c`, whichever the
    importing code uses; when several files fit, the one nearest the importer wins (a tie: neither)."""

    def __init__(self, files: Iterable[Path]) -> None:
        self.parts: dict[Path, tuple[str, ...]] = {}
        self.by_suffix: dict[tuple[str, ...], list[Path]] = {}
        self.by_abs: dict[tuple[str, ...], Path] = {}
        for f in files:
            if f.suffix != ".py":
                continue
            parts = tuple(Path(os.path.abspath(f)).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            self.parts[f] = parts
            self.by_abs[parts] = f
            for k in range(1, min(len(parts), MAX_SUFFIX) + 1):
                self.by_suffix.setdefault(parts[-k:], []).append(f)

    def resolve(self, dotted: str, importer: Path) -> tuple[Path, tuple[str, ...]] | None:
        """The scanned file a dotted name lives in and the name inside it (`pkg.utils.helper` → utils.py,
        ("helper",)), or None when it is not in the scan. As Python would find it from a folder above
        the importer (its own folder, or a project root it runs from): a `utils.py` of a sibling project
        is not a candidate."""
        names = tuple(dotted.split("."))
        mine = self.parts.get(importer) or tuple(Path(os.path.abspath(importer)).with_suffix("").parts)
        for k in range(len(names), 0, -1):
            found = self._nearest(self.by_suffix.get(names[:k], []), k, mine)
            if found is not None:
                return found, names[k:]
        return None

    def resolve_relative(self, level: int, module: str, importer: Path) -> Path | None:
        """`from ..x import y` in `importer`: the file of `..x` (a module or a package's `__init__`)."""
        base = self.parts.get(importer)
        if base is None:
            return None
        package = base if Path(importer).stem == "__init__" else base[:-1]
        if level > 1:
            package = package[: len(package) - (level - 1)]
        return self.by_abs.get(package + tuple(p for p in module.split(".") if p))

    def _nearest(self, candidates: list[Path], k: int, mine: tuple[str, ...]) -> Path | None:
        """The candidate whose import root (its path less the `k` dotted parts) is the deepest folder
        above the importer; None when none is above it, or two are equally deep."""
        roots = []
        for c in candidates:
            root = self.parts[c][:-k]
            if mine[: len(root)] == root and len(root) < len(mine):
                roots.append((len(root), c))
        roots.sort(key=lambda r: -r[0])
        if not roots or (len(roots) > 1 and roots[0][0] == roots[1][0]):
            return None
        return roots[0][1]

    def imported_by_text(self, text: str, importer: Path) -> set[Path]:
        """Scanned files that `text` imports, read from its import lines without parsing."""
        found: set[Path] = set()
        for m in IMPORT_LINE.finditer(text):
            dots, module, names, plain = m.groups()
            if plain is not None:
                for item in plain.split(","):
                    name = item.split()[0] if item.split() else ""
                    hit = self.resolve(name, importer) if name else None
                    if hit is not None and hit[0] != importer:
                        found.add(hit[0])
                continue
            heads = [n.split()[0] for n in (names or "").split(",") if n.split()]
            if dots:
                bases = [self.resolve_relative(len(dots), module, importer)]
                bases += [self.resolve_relative(len(dots), f"{module}.{h}", importer) for h in heads]
                found |= {b for b in bases if b is not None and b != importer}
                continue
            for dotted in [module] + [f"{module}.{h}" for h in heads]:
                hit = self.resolve(dotted, importer)
                if hit is not None and hit[0] != importer:
                    found.add(hit[0])
        return found


# ---------------------------------------------------------------------------------------------- one file
@dataclass
class FileSummary:
    """What one parsed file says about others: (file, key, repeat) for each function it calls in a
    loop, loops over loaders other files return, and which of its own parameters feed a training loop."""

    calls: list[tuple[Path, str, Repeat]] = field(default_factory=list)
    local_loader_uses: list[tuple[Path, str, LoaderElsewhere]] = field(default_factory=list)
    passed_loaders: list[tuple[Path, str, Path, str, int | str]] = field(default_factory=list)
    param_uses: dict[tuple[str, str], LoaderElsewhere] = field(default_factory=dict)
    params: dict[str, list[str]] = field(default_factory=dict)


class Imports:
    """This file's names that refer to other scanned files (absolute and relative imports)."""

    def __init__(self, ctx: FileContext, path: Path, modules: Modules) -> None:
        self.ctx, self.path, self.modules = ctx, path, modules
        self.relative: dict[str, tuple[Path, tuple[str, ...]]] = {}
        for node in ctx.nodes_by_type.get("ImportFrom", ()):
            assert isinstance(node, cst.ImportFrom)
            if not node.relative or isinstance(node.names, cst.ImportStar):
                continue
            module = dotted_name(node.module) if node.module is not None else ""
            for alias in node.names:
                name = dotted_name(alias.name)
                if name is None:
                    continue
                local = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else name
                as_module = modules.resolve_relative(len(node.relative), f"{module}.{name}", path)
                if as_module is not None:
                    self.relative[local] = (as_module, ())
                    continue
                owner = modules.resolve_relative(len(node.relative), module or "", path)
                if owner is not None:
                    self.relative[local] = (owner, (name,))

    def target(self, expr: cst.BaseExpression) -> tuple[Path, tuple[str, ...]] | None:
        """The scanned file and the name inside it that `expr` refers to (`helper`, `utils.helper`)."""
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        tail = tuple(rest.split(".")) if rest else ()
        if head in self.relative:
            file, inner = self.relative[head]
            return (file, inner + tail) if inner + tail else None
        if head not in self.ctx.imports or head in self.ctx.functions or head in self.ctx.classes or head in self.ctx.bindings:
            return None  # not imported, or shadowed by a definition of this file
        found = self.modules.resolve(f"{self.ctx.imports[head]}.{rest}" if rest else self.ctx.imports[head], self.path)
        if found is None or found[0] == self.path or not found[1]:
            return None
        return found

    def instance_classes(self, expr: cst.BaseExpression, seen: frozenset[str] = frozenset()) -> list[tuple[Path, str]]:
        """The imported classes a name may hold an instance of (`model = Net().to(dev)`; a name bound to
        one of several, or first to None, gives each): empty when any binding is something else."""
        dotted = dotted_name(expr)
        if dotted is None or dotted in seen:
            return []
        out: list[tuple[Path, str]] = []
        for value in self.ctx.bindings.get(dotted, ()):
            if isinstance(value, cst.Name) and value.value == "None":
                continue
            while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in ("to", "cuda", "train", "eval", "float", "half"):
                value = value.func.value
            found = self.target(value.func) if isinstance(value, cst.Call) else None
            if found is None or len(found[1]) != 1 or not found[1][0][:1].isupper():
                return []
            out.append((found[0], found[1][0]))
        return list(dict.fromkeys(out))

    def callees(self, call: cst.Call) -> list[tuple[Path, str]]:
        """(file, key) of the functions of other scanned files that `call` runs."""
        func = call.func
        direct = self.target(func)
        if direct is not None:
            file, names = direct
            return [(file, ".".join(names))] if names[-1][:1].islower() else []
        if isinstance(func, cst.Attribute):
            return [(f, f"{cls}.{func.attr.value}") for f, cls in self.instance_classes(func.value)] or [
                (f, f"{cls}.forward") for f, cls in self.instance_classes(func)
            ]
        return [(f, f"{cls}.forward") for f, cls in self.instance_classes(func)]


def summarise(path: Path, text: str, modules: Modules, loaders_from: set[Path], sink: bool = False) -> FileSummary:
    """Parse one file and say what it tells the others. `loaders_from`: the files whose loader-returning
    functions it calls; `sink`: such a caller imports it (its parameters may receive those loaders)."""
    module = cst.parse_module(text)
    ctx = build_context(module, text, display_path(path))
    imports = Imports(ctx, path, modules)
    line_of = loop_lines(ctx, module, text)
    summary = FileSummary()
    graph = call_graph(ctx)
    where = display_path(path)
    for call in ctx.nodes_by_type.get("Call", ()):
        assert isinstance(call, cst.Call)
        targets = imports.callees(call)
        if not targets or _grad_off(ctx, call):
            continue
        rep = graph.repeat_at(call)
        if rep is None or rep.loop is None or (rep.site is not None and _grad_off(ctx, rep.site)):
            continue
        line = line_of(rep.loop)
        outside = Repeat(None, None, rep.gated, rep.training, rep.hops, rep.steps, elsewhere=f"{where}:{line}")
        summary.calls.extend((file, key, outside) for file, key in targets)
    if loaders_from or sink:
        summarise_loaders(ctx, imports, line_of, where, loaders_from, sink, summary)
    return summary


def loop_lines(ctx: FileContext, module: cst.Module, text: str) -> Callable[[cst.CSTNode], int]:
    """The first line of a loop of this file. libcst computes positions by rendering code (the costliest
    part of this pass when it did); CPython's parser gives them for a fraction of a parse: the n-th
    `for` (or `while`) statement of one tree is the n-th of the other."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        from advisor.positions import LazyPositions  # the slow way, for code CPython's parser refuses

        positions = LazyPositions(module, text, ctx.parent)
        return lambda node: positions[node].start.line
    fors = sorted((n.lineno, n.col_offset) for n in ast.walk(tree) if isinstance(n, (ast.For, ast.AsyncFor)))
    whiles = sorted((n.lineno, n.col_offset) for n in ast.walk(tree) if isinstance(n, ast.While))
    index = {id(n): fors[i][0] for i, n in enumerate(ctx.nodes_by_type.get("For", ())) if i < len(fors)}
    index.update({id(n): whiles[i][0] for i, n in enumerate(ctx.nodes_by_type.get("While", ())) if i < len(whiles)})
    return lambda node: index.get(id(node), 0)


def _grad_off(ctx: FileContext, node: cst.CSTNode) -> bool:
    """Under `with torch.no_grad():` (or a decorator, or a project wrapper named like one)."""
    for anc in ctx.ancestors(node):
        if isinstance(anc, cst.With):
            for item in anc.items:
                name = dotted_name(item.item.func) if isinstance(item.item, cst.Call) else dotted_name(item.item)
                if name and name.endswith(GRAD_OFF):
                    return True
        if isinstance(anc, cst.FunctionDef):
            for dec in anc.decorators:
                target = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
                name = dotted_name(target)
                if name and name.endswith(GRAD_OFF):
                    return True
    return False


# ---------------------------------------------------------------------------------------------- the scan
def project_facts(files: list[Path], config: "Config") -> dict[Path, ExternalFacts]:
    """For each scanned file, what the others say about it (files nothing is said about are left out)."""
    sources = [f for f in files if f.suffix == ".py"]
    if len(sources) < 2:
        return {}
    modules = Modules(sources)
    texts: dict[Path, str] = {}  # kept only for files that import another scanned file
    imported: dict[Path, set[Path]] = {}
    steps: set[Path] = set()
    loader_functions: dict[Path, re.Pattern[str]] = {}
    for f in sources:
        text = _read(f, config)
        if text is None:
            continue
        if STEP_TEXT.search(text):
            steps.add(f)
        if "DataLoader(" in text and "return" in text:
            names = _loader_functions(text)
            if names:
                loader_functions[f] = re.compile(r"\b(?:" + "|".join(names) + r")\s*\(")
        found = modules.imported_by_text(text, f) if "import" in text else set()
        if found:
            texts[f], imported[f] = text, found
    if not imported:
        return {}
    # a file that calls a function of another scanned file returning a DataLoader, by its name
    pass_loaders = {f for f in imported if any(g in loader_functions and loader_functions[g].search(texts[f]) for g in imported[f])}
    sinks = {g for f in pass_loaders for g in imported[f] if g in steps}
    wanted = (steps & set(imported)) | pass_loaders | sinks
    summaries: dict[Path, FileSummary] = {}
    for f in sorted(wanted):
        text = texts.get(f) or _read(f, config)
        if text is None:
            continue
        try:
            summaries[f] = summarise(f, text, modules, imported.get(f, set()) & set(loader_functions), f in sinks)
        except Exception:  # a file we cannot parse or follow says nothing here; its own scan reports it
            if config.debug:
                raise
    return _join(summaries)


def _join(summaries: dict[Path, FileSummary]) -> dict[Path, ExternalFacts]:
    repeats: dict[Path, dict[str, Repeat]] = {}
    loaders: dict[Path, list[tuple[str, LoaderElsewhere]]] = {}
    for s in summaries.values():
        for file, key, rep in s.calls:
            known = repeats.setdefault(file, {}).get(key)
            if known is None or rep.rank() < known.rank():
                repeats[file][key] = rep
        for file, key, use in s.local_loader_uses:
            loaders.setdefault(file, []).append((key, use))
        for file, key, sink, sink_key, slot in s.passed_loaders:
            callee = summaries.get(sink)
            if callee is None or sink_key not in callee.params:
                continue
            names = callee.params[sink_key]
            param = slot if isinstance(slot, str) else (names[slot] if slot < len(names) else None)
            passed = callee.param_uses.get((sink_key, param)) if param is not None else None
            if passed is not None:
                loaders.setdefault(file, []).append((key, passed))
    out: dict[Path, ExternalFacts] = {}
    for file in set(repeats) | set(loaders):
        reps = tuple(sorted(repeats.get(file, {}).items(), key=lambda kv: kv[0]))
        out[file] = ExternalFacts(reps, tuple(dict.fromkeys(loaders.get(file, []))))
    return out


def _loader_functions(text: str) -> list[str]:
    """Module-level functions whose text builds and returns a DataLoader (read from the text: the part
    from one top-level `def` to the next top-level statement)."""
    found: list[str] = []
    for m in TOP_DEF.finditer(text):
        end = TOP_LEVEL.search(text, m.end())
        body = text[m.end() : end.start() if end else len(text)]
        if "DataLoader(" in body and "return" in body:
            found.append(m.group(1))
    return found


def _read(path: Path, config: "Config") -> str | None:
    try:
        return decode(read_bytes(path, config.max_file_size))
    except SourceError:
        return None
