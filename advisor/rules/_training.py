"""Where a DataLoader's batches go: the loops that consume them, and whether those loops train.

Shared by the data-loading rules (ADV202–ADV204). A loader is followed through the shapes real code
uses: a name or `self.attr`, a dict entry (`loaders["train"]`), a helper that builds and returns it, an
argument passed to a local function (`train_epoch(model, train_loader)`), `enumerate`/`tqdm`/`zip`
wrappers, and `it = iter(loader)` drained with `next(it)`. Anything we cannot follow yields no use, so
the rules stay silent rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from advisor.context import FileContext
from advisor.kinds import move_target
from advisor.syntax import callee_name, dotted_name, node_code, positional, target_names, walk

DATALOADERS = frozenset({"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"})
# Calls that hand a loader's batches through unchanged (their first positional argument is iterated).
WRAPPERS = frozenset({"enumerate", "tqdm", "trange", "zip", "islice", "cycle", "iter", "track", "progress_bar"})
# Loader names that say "not for training"; used only where the loop trains conditionally.
EVAL_WORDS = ("val", "valid", "test", "eval", "dev", "holdout")
MAX_CALL_DEPTH = 2


@dataclass(frozen=True)
class Ref:
    """One way code refers to a loader: a dotted name (`loader`, `self.loader`), optionally a dict key,
    valid inside `scope` (the function that binds it, or None for module level / attributes)."""

    dotted: str
    key: str | None
    scope: cst.FunctionDef | None


@dataclass(frozen=True)
class LoaderUse:
    """A loop that draws batches from a loader, and the names each batch is bound to in it."""

    loop: cst.For | cst.While
    batch_names: frozenset[str]
    training: bool


def dataloader_calls(ctx: FileContext) -> list[cst.Call]:
    return ctx.calls_to(DATALOADERS)


def arg_value(call: cst.Call, name: str, index: int) -> cst.Arg | None:
    """The argument that fills parameter `name` (keyword, or positional slot `index`)."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    args = positional(call)
    return args[index] if len(args) > index else None


def literal(ctx: FileContext, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """`expr` if it is a literal (an int, True/False/None), or the one literal every binding of that name
    gives (`BATCH_SIZE = 1`); None for anything computed, configured or passed in."""
    if _is_literal(expr):
        return expr
    if isinstance(expr, cst.Name):
        values = ctx.bindings.get(expr.value, [])
        if values and all(_is_literal(v) for v in values) and len({node_code(v) for v in values}) == 1:
            return values[0]
    return None


def _is_literal(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Integer) or (isinstance(expr, cst.Name) and expr.value in ("True", "False", "None"))



def loader_uses(ctx: FileContext, call: cst.Call) -> list[LoaderUse]:
    """Every loop we can show consumes the batches of the DataLoader built by `call`."""
    direct = _iterated_directly(ctx, call)
    if direct is not None:  # `for x, y in DataLoader(...)`: no name to follow
        return [_use(ctx, direct, frozenset(target_names(direct.target)), "train" if ctx.loop_facts(direct).is_step_loop else "")]
    refs = _refs_of(ctx, call)
    origin = " ".join(r.dotted + (r.key or "") for r in refs).lower()
    return _uses(ctx, refs, origin, depth=0)


def _iterated_directly(ctx: FileContext, call: cst.Call) -> cst.For | None:
    """The loop whose iterable is this very call, possibly inside `enumerate(...)`/`tqdm(...)`."""
    node: cst.CSTNode = call
    while True:
        parent = ctx.parent(node)
        if isinstance(parent, cst.For) and parent.iter is node:
            return parent
        if isinstance(parent, cst.Arg):
            wrapper = ctx.parent(parent)
            if isinstance(wrapper, cst.Call) and callee_name(wrapper) in WRAPPERS:
                node = wrapper
                continue
        return None


def moves_batches(ctx: FileContext, use: LoaderUse) -> bool:
    """The loop copies its batch to a device: `x.to(device)`, `batch["x"].cuda()`, a comprehension of
    `.to(device)` over the batch, or a name unpacked from the batch first (`inputs, labels = data`)."""
    return bool(batch_moves(ctx, use))


def batch_moves(ctx: FileContext, use: LoaderUse) -> list[cst.Call]:
    """The calls that copy the loop's batch to a device (see `moves_batches`)."""
    body = _body_nodes(use.loop)
    names = set(use.batch_names)
    for _ in range(3):  # follow a few steps of `a = f(batch)` / `x, y = batch` inside the loop
        before = len(names)
        for node in body:
            if isinstance(node, cst.CompFor) and _names(node.iter) & names:
                names |= target_names(node.target)
            elif isinstance(node, cst.Assign) and _names(node.value) & names:
                for t in node.targets:
                    names |= target_names(t.target)
        if len(names) == before:
            break
    return [
        node
        for node in body
        if isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and move_target(ctx, node) == "device"
        and _names(node.func.value) & names
    ]


def host_copy_written(ctx: FileContext, move: cst.Call) -> bool:
    """The host tensor a copy reads is changed in place in the same loop (`x.mul_(2)`, `x[0] = 0`): an
    asynchronous copy could then read the new values, so `non_blocking=True` is neither added nor advised."""
    source = _names(move.func.value) if isinstance(move.func, cst.Attribute) else set()
    loop = ctx.innermost_loop(move)
    if not source or loop is None:
        return True
    for node in _body_nodes(loop):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            attr = node.func.attr.value
            if attr.endswith("_") and not attr.startswith("_") and _names(node.func.value) & source:
                return True
        elif isinstance(node, (cst.Assign, cst.AugAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(isinstance(t, cst.Subscript) and _names(t.value) & source for t in targets):
                return True
    return False


# ---------------------------------------------------------------------------------------------- refs
def _refs_of(ctx: FileContext, call: cst.Call) -> list[Ref]:
    """Names the loader is reachable by: its assignment target, an entry of a dict literal, or the names
    bound to the result of a helper that returns it (directly or by name)."""
    value: cst.CSTNode = call
    key: str | None = None
    parent = ctx.parent(call)
    if isinstance(parent, cst.DictElement) and parent.value is call:
        if not isinstance(parent.key, cst.SimpleString):
            return []
        key = str(parent.key.evaluated_value)
        value = ctx.parent(parent) or call
    scope = ctx.enclosing_function(call)
    holder = ctx.parent(value)
    if isinstance(holder, cst.Element) and scope is not None:  # `return DataLoader(a), DataLoader(b)`
        tup = ctx.parent(holder)
        if isinstance(tup, cst.Tuple) and isinstance(ctx.parent(tup), cst.Return):
            index = next(i for i, el in enumerate(tup.elements) if el is holder)
            refs = _returned_refs(ctx, scope, index=index)
            return [Ref(r.dotted, key, r.scope) for r in refs] if key is not None else refs
        return []
    if isinstance(holder, cst.Return):
        refs = _returned_refs(ctx, scope, index=None) if scope is not None else []
    else:
        refs = _assigned_refs(ctx, value, scope)
        if scope is not None:
            for ref in list(refs):
                refs.extend(_returned_by_name(ctx, scope, ref.dotted))
    return [Ref(r.dotted, key, r.scope) for r in refs] if key is not None else refs


def _assigned_refs(ctx: FileContext, value: cst.CSTNode, scope: cst.FunctionDef | None) -> list[Ref]:
    parent = ctx.parent(value)
    targets: list[cst.BaseExpression] = []
    if isinstance(parent, cst.Assign) and parent.value is value:
        targets = [t.target for t in parent.targets]
    elif isinstance(parent, cst.AnnAssign) and parent.value is value:
        targets = [parent.target]
    out = []
    for t in targets:
        dotted = dotted_name(t)
        if dotted is not None:
            out.append(Ref(dotted, None, None if "." in dotted else scope))
    return out


def _returned_by_name(ctx: FileContext, func: cst.FunctionDef, name: str) -> list[Ref]:
    """`loader = DataLoader(...); return loader` (or `return train_loader, val_loader`)."""
    out: list[Ref] = []
    for ret in ctx.nodes(cst.Return):
        if ret.value is None or ctx.enclosing_function(ret) is not func:
            continue
        if dotted_name(ret.value) == name:
            out.extend(_returned_refs(ctx, func, index=None))
        elif isinstance(ret.value, cst.Tuple):
            for i, el in enumerate(ret.value.elements):
                if dotted_name(el.value) == name:
                    out.extend(_returned_refs(ctx, func, index=i))
    return out


def _returned_refs(ctx: FileContext, func: cst.FunctionDef, index: int | None) -> list[Ref]:
    """Names bound to the result of calling `func` (element `index` of a returned tuple)."""
    out: list[Ref] = []
    name = func.name.value
    for assign in ctx.nodes(cst.Assign):
        value = assign.value
        if not isinstance(value, cst.Call) or callee_name(value) != name:
            continue
        scope = ctx.enclosing_function(assign)
        for t in assign.targets:
            target: cst.BaseExpression = t.target
            if index is not None:
                if not isinstance(target, (cst.Tuple, cst.List)) or index >= len(target.elements):
                    continue
                target = target.elements[index].value
            dotted = dotted_name(target)
            if dotted is not None:
                out.append(Ref(dotted, None, None if "." in dotted else scope))
    return out


# ---------------------------------------------------------------------------------------------- uses
def _matches(ctx: FileContext, expr: cst.BaseExpression, ref: Ref, where: cst.CSTNode) -> bool:
    """`expr` at `where` denotes the loader `ref` names (respecting function scopes)."""
    if ref.key is not None:
        if not isinstance(expr, cst.Subscript) or len(expr.slice) != 1:
            return False
        index = expr.slice[0].slice
        if not isinstance(index, cst.Index) or not isinstance(index.value, cst.SimpleString):
            return False
        if str(index.value.evaluated_value) != ref.key:
            return False
        expr = expr.value
    if dotted_name(expr) != ref.dotted:
        return False
    if "." in ref.dotted:
        return True
    func = ctx.enclosing_function(where)
    if ref.scope is not None:
        return func is ref.scope
    return func is None or not _binds_locally(ctx, func, ref.dotted)


def _binds_locally(ctx: FileContext, func: cst.FunctionDef, name: str) -> bool:
    if name in _params(func):
        return True
    for value in ctx.bindings.get(name, ()):
        if ctx.enclosing_function(value) is func:
            return True
    return False


def _params(func: cst.FunctionDef) -> list[str]:
    p = func.params
    return [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)]


def _draws_from(ctx: FileContext, expr: cst.BaseExpression, refs: list[Ref], where: cst.CSTNode) -> bool:
    """`expr` iterates the loader: the loader itself, or a wrapper call around it."""
    if any(_matches(ctx, expr, r, where) for r in refs):
        return True
    if isinstance(expr, cst.Call) and callee_name(expr) in WRAPPERS:
        return any(_draws_from(ctx, a.value, refs, where) for a in positional(expr))
    return False


def _uses(ctx: FileContext, refs: list[Ref], origin: str, depth: int) -> list[LoaderUse]:
    if not refs:
        return []
    refs = refs + _wrapped_refs(ctx, refs)
    out: list[LoaderUse] = []
    for loop in ctx.nodes(cst.For):
        if _draws_from(ctx, loop.iter, refs, loop):
            out.append(_use(ctx, loop, frozenset(target_names(loop.target)), origin))
    out.extend(_next_uses(ctx, refs, origin))
    if depth < MAX_CALL_DEPTH:
        out.extend(_uses_through_calls(ctx, refs, origin, depth))
    return out


def _wrapped_refs(ctx: FileContext, refs: list[Ref]) -> list[Ref]:
    """`batches = tqdm(loader)`, `pbar = enumerate(loader)`: the wrapper's name iterates the loader too."""
    out: list[Ref] = []
    for assign in ctx.nodes(cst.Assign):
        value = assign.value
        if isinstance(value, cst.Call) and callee_name(value) in WRAPPERS and callee_name(value) != "iter":
            if _draws_from(ctx, value, refs, assign):
                out.extend(_assigned_refs(ctx, value, ctx.enclosing_function(assign)))
    return out


def _next_uses(ctx: FileContext, refs: list[Ref], origin: str) -> list[LoaderUse]:
    """`it = iter(loader)` then `x, y = next(it)` inside a loop."""
    iterators: list[Ref] = []
    for assign in ctx.nodes(cst.Assign):
        value = assign.value
        if isinstance(value, cst.Call) and callee_name(value) == "iter" and value.args:
            if _draws_from(ctx, value.args[0].value, refs, assign):
                iterators.extend(_assigned_refs(ctx, value, ctx.enclosing_function(assign)))
    out: list[LoaderUse] = []
    for call in ctx.nodes(cst.Call) if iterators else ():
        if callee_name(call) != "next" or not call.args or not isinstance(call.func, cst.Name):
            continue
        if not any(_matches(ctx, call.args[0].value, r, call) for r in iterators):
            continue
        loop = ctx.innermost_loop(call)
        if loop is None:
            continue
        parent = ctx.parent(call)
        names: set[str] = set()
        if isinstance(parent, cst.Assign):
            for t in parent.targets:
                names |= target_names(t.target)
        out.append(_use(ctx, loop, frozenset(names), origin))
    return out


def _uses_through_calls(ctx: FileContext, refs: list[Ref], origin: str, depth: int) -> list[LoaderUse]:
    """The loader passed to a function defined in this file: follow it to that function's parameter."""
    out: list[LoaderUse] = []
    for call in ctx.nodes(cst.Call):
        name = callee_name(call)
        defs = ctx.functions.get(name or "")
        if not defs:
            continue
        for i, arg in enumerate(call.args):
            if arg.star or not any(_matches(ctx, arg.value, r, call) for r in refs):
                continue
            for fdef in defs:
                param = _param_for(fdef, call, i, arg)
                if param is not None:
                    out.extend(_uses(ctx, [Ref(param, None, fdef)], origin, depth + 1))
    return out


def _param_for(fdef: cst.FunctionDef, call: cst.Call, index: int, arg: cst.Arg) -> str | None:
    params = _params(fdef)
    if arg.keyword is not None:
        return arg.keyword.value if arg.keyword.value in params else None
    if isinstance(call.func, cst.Attribute) and params and params[0] in ("self", "cls"):
        params = params[1:]
    slot = sum(1 for a in call.args[:index] if a.keyword is None and not a.star)
    return params[slot] if slot < len(params) else None


def _use(ctx: FileContext, loop: cst.For | cst.While, batch_names: frozenset[str], origin: str) -> LoaderUse:
    return LoaderUse(loop, batch_names, _trains(ctx, loop, origin))


def _trains(ctx: FileContext, loop: cst.For | cst.While, origin: str) -> bool:
    """The loop takes an optimisation step per batch. A loop that trains only under a condition (a shared
    `run_epoch(loader, train=...)`) counts as training for loaders named for training, never for
    validation/test loaders or names that say neither."""
    how = step_every_iteration(ctx, loop)
    if how == "conditional":
        return "train" in origin and not any(w in origin for w in EVAL_WORDS)
    return how == "always"


def step_every_iteration(ctx: FileContext, loop: cst.For | cst.While) -> str | None:
    """"always" when each iteration runs a training call (`.backward()`, an optimizer step, or a local helper
    doing one) outside any condition, "conditional" when only under an `if`, None when it does not train
    (or sits in a test function)."""
    if ctx.in_test_function(loop) or not ctx.loop_facts(loop).is_step_loop:
        return None
    funcs = ctx.function_facts()
    found: str | None = None
    for node in ctx.calls_in_body(loop):
        callee = callee_name(node)
        helper = funcs.get(callee or "") if callee in ctx.functions else None
        if ctx.is_training_call(node) or (helper is not None and helper.steps):
            if not ctx.is_conditional_within(node, loop):
                return "always"
            found = "conditional"
    return found


def steps_optimizer(ctx: FileContext, loop: cst.For | cst.While) -> bool:
    """The loop body (not its nested loops) updates weights: an optimizer-like `.step()`, or a local
    helper that trains. A `.backward()` alone may only be computing input gradients (saliency)."""
    funcs = ctx.function_facts()
    for node in ctx.calls_in_body(loop):
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "step" and ctx.is_training_call(node):
            return True
        callee = callee_name(node)
        helper = funcs.get(callee or "") if callee in ctx.functions else None
        if helper is not None and helper.steps:
            return True
    return False


def all_loader_uses(ctx: FileContext) -> list[tuple[cst.Call, list[LoaderUse]]]:
    """Every DataLoader call of the file with its uses; computed once and shared by the loader rules."""
    cached = ctx.shared.get("dataloader_uses")
    if cached is None:
        cached = [(call, loader_uses(ctx, call)) for call in dataloader_calls(ctx)]
        ctx.shared["dataloader_uses"] = cached
    return cached


def loader_loops(ctx: FileContext) -> set[int]:
    """ids of every loop we can show draws batches from some DataLoader in this file."""
    return {id(u.loop) for _, uses in all_loader_uses(ctx) for u in uses}


def _body_nodes(loop: cst.For | cst.While) -> list[cst.CSTNode]:
    """Nodes of the loop body, nested function and class definitions left out."""
    out: list[cst.CSTNode] = []
    stack: list[cst.CSTNode] = [loop.body]
    while stack:
        node = stack.pop()
        out.append(node)
        if not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            stack.extend(node.children)
    return out


def _names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in walk(node) if isinstance(n, cst.Name)}
