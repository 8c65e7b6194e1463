"""DataLoaders built in one file and trained on in another (the project pre-pass, `advisor/project.py`).

`data.py` returns the loaders, `main.py` passes them on, `trainer.py` iterates them in the training
step: the loader rules (ADV202–ADV204) speak at the DataLoader call, so the file that builds it must
learn where its batches go. In the files the pre-pass parses this module says which loaders of other
files they iterate or pass on, and which of their own parameters a training loop iterates; in the file
that builds a loader it finds the keys (`get_loaders#0`) under which those facts arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from advisor.context import STEP_TRIGGERS, FileContext
from advisor.syntax import dotted_name, names_in
from advisor.rules._training import LoaderUse, Ref, _matches, _params, _uses, moves_batches

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Callable

    from advisor.project import FileSummary, Imports


@dataclass(frozen=True)
class LoaderElsewhere:
    """A loop in another file that draws batches from a loader this file builds."""

    where: str  # `models/gan.py:63`
    training: bool  # the loop takes an optimizer step per batch
    moves: bool  # it copies each batch to a device
    cuda: bool  # that file runs on CUDA


def summarise_loaders(
    ctx: FileContext,
    imports: "Imports",
    line_of: "Callable[[cst.CSTNode], int]",
    where: str,
    loaders_from: "set[Path]",
    sink: bool,
    summary: "FileSummary",
) -> None:
    """Fill `summary` with this file's part of the loader flow (see the module docstring): the loaders
    it receives from `loaders_from`, and, when it is a `sink` that trains, its parameters that take one."""
    if sink and any(t in ctx.text for t in STEP_TRIGGERS):
        _param_uses(ctx, line_of, where, summary)
    if loaders_from:
        _loaders_received(ctx, imports, line_of, where, loaders_from, summary)


def _elsewhere(ctx: FileContext, line_of: "Callable[[cst.CSTNode], int]", where: str, use: LoaderUse) -> LoaderElsewhere:
    return LoaderElsewhere(f"{where}:{line_of(use.loop)}", use.training, moves_batches(ctx, use), ctx.runs_on_cuda)


def _function_key(ctx: FileContext, func: cst.FunctionDef) -> tuple[str, list[str]] | None:
    """`name` / `Class.name` and the parameters a caller fills (without `self`), or None when nested."""
    parent = ctx.parent(ctx.parent(func) or func)
    params = _params(func)
    if isinstance(ctx.parent(func), cst.Module):
        return func.name.value, params
    if isinstance(parent, cst.ClassDef) and isinstance(ctx.parent(parent), cst.Module):
        return f"{parent.name.value}.{func.name.value}", params[1:] if params[:1] in (["self"], ["cls"]) else params
    return None


def _param_uses(ctx: FileContext, line_of: "Callable[[cst.CSTNode], int]", where: str, summary: "FileSummary") -> None:
    """Parameters of this file's functions that a training loop here draws batches from."""
    iterated: set[str] = set()
    for loop in ctx.nodes_by_type.get("For", ()):
        iterated |= names_in(cst.ensure_type(loop, cst.For).iter)
    for func in ctx.nodes_by_type.get("FunctionDef", ()):
        assert isinstance(func, cst.FunctionDef)
        found = _function_key(ctx, func)
        if found is None:
            continue
        key, params = found
        summary.params[key] = params
        for name in params:
            if name not in iterated and not _passed_on(ctx, func, name):
                continue
            uses = [u for u in _uses(ctx, [Ref(name, None, func)], name, 0) if u.training]
            if uses:
                summary.param_uses[(key, name)] = _elsewhere(ctx, line_of, where, uses[0])


def _passed_on(ctx: FileContext, func: cst.FunctionDef, name: str) -> bool:
    """The parameter is handed to another call (`run_epoch(model, loader)`, `enumerate(loader)`)."""
    for call in ctx.nodes_by_type.get("Call", ()):
        assert isinstance(call, cst.Call)
        if any(dotted_name(a.value) == name for a in call.args) and ctx.enclosing_function(call) is func:
            return True
    return False


def _loaders_received(
    ctx: FileContext, imports: "Imports", line_of: "Callable[[cst.CSTNode], int]", where: str, loaders_from: "set[Path]", summary: "FileSummary"
) -> None:
    """`train_loader, test_loader = get_data_loader(args)` with `get_data_loader` from another scanned
    file: the loops here that draw from them, and the calls into other files that they are passed to."""
    for assign in ctx.nodes_by_type.get("Assign", ()):
        assert isinstance(assign, cst.Assign)
        value = assign.value
        source = imports.target(value.func) if isinstance(value, cst.Call) else None
        if source is None or source[0] not in loaders_from or len(source[1]) != 1:
            continue
        file, key = source[0], source[1][0]
        scope = ctx.enclosing_function(assign)
        for ref, ref_key in _received_refs(assign, key, scope):
            for use in _uses(ctx, [ref], ref.dotted, 0):
                summary.local_loader_uses.append((file, ref_key, _elsewhere(ctx, line_of, where, use)))
            for call in ctx.nodes_by_type.get("Call", ()):
                assert isinstance(call, cst.Call)
                slot = 0
                for arg in call.args:
                    if arg.star:
                        break
                    here: int | str = arg.keyword.value if arg.keyword is not None else slot
                    slot += arg.keyword is None
                    if _matches(ctx, arg.value, ref, call):
                        summary.passed_loaders.extend((file, ref_key, sink, sink_key, here) for sink, sink_key in imports.callees(call))


def _received_refs(assign: cst.Assign, key: str, scope: cst.FunctionDef | None) -> list[tuple[Ref, str]]:
    out: list[tuple[Ref, str]] = []
    for t in assign.targets:
        target = t.target
        if isinstance(target, (cst.Tuple, cst.List)):
            for i, el in enumerate(target.elements):
                dotted = dotted_name(el.value)
                if dotted is not None:
                    out.append((Ref(dotted, None, None if "." in dotted else scope), f"{key}#{i}"))
            continue
        dotted = dotted_name(target)
        if dotted is not None:
            out.append((Ref(dotted, None, None if "." in dotted else scope), key))
    return out


# ---------------------------------------------------------------------------------------------- the builder's side
def returned_keys(ctx: FileContext, call: cst.Call) -> list[str]:
    """The keys under which other files report on the loader `call` builds: `f` when module-level `f`
    returns it, `f#i` when it is element i of the tuple `f` returns (directly or by a local name)."""
    func = ctx.enclosing_function(call)
    if func is None or not isinstance(ctx.parent(func), cst.Module):
        return []
    name = func.name.value
    holder = ctx.parent(call)
    if isinstance(holder, cst.Return):
        return [name]
    if isinstance(holder, cst.Element) and isinstance(ctx.parent(holder), cst.Tuple) and isinstance(ctx.parent(ctx.parent(holder) or holder), cst.Return):
        tup = cst.ensure_type(ctx.parent(holder), cst.Tuple)
        return [f"{name}#{i}" for i, el in enumerate(tup.elements) if el is holder]
    if not (isinstance(holder, cst.Assign) and len(holder.targets) == 1 and isinstance(holder.targets[0].target, cst.Name)):
        return []
    local = cst.ensure_type(holder.targets[0].target, cst.Name).value
    keys: list[str] = []
    for ret in ctx.nodes_by_type.get("Return", ()):
        assert isinstance(ret, cst.Return)
        if ret.value is None or ctx.enclosing_function(ret) is not func:
            continue
        if isinstance(ret.value, cst.Name) and ret.value.value == local:
            keys.append(name)
        elif isinstance(ret.value, cst.Tuple):
            keys += [f"{name}#{i}" for i, el in enumerate(ret.value.elements) if isinstance(el.value, cst.Name) and el.value.value == local]
    return keys


def loaders_elsewhere(ctx: FileContext, call: cst.Call) -> list[LoaderElsewhere]:
    """Training loops in other files that draw batches from the loader `call` builds."""
    external = ctx.shared.get("project")
    if external is None:
        return []
    return [u for key in returned_keys(ctx, call) for u in external.loader_uses(key) if u.training]
