"""ADV301: an optimizer trained for many epochs at one fixed learning rate, with nothing managing it."""

from __future__ import annotations

import re
from typing import Any

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import call_attr, call_receiver, callee_name, dotted_name, int_value, node_code, positional, walk
from advisor.fixes import AddImport, FixPlan, InsertAfter, Op, fresh_name, guarded
from advisor.rule import Rule, RuleDocs
from advisor.rules._training import literal
from advisor.types import Confidence, Severity
from advisor.verify.sizes import Literals, nearest

# Helpers that change the rate by another name: adjust_learning_rate(opt, epoch), set_lr(...), warmup_lr...
LR_HELPER = re.compile(r"sched|adjust_?(lr|learning_rate)|(set|update|decay|warmup|cosine|poly)_?(lr|learning_rate)|lr_?(decay|warmup|update|policy|lambda)", re.I)
NOT_OPTIMIZERS = frozenset({"Optimizer", "LBFGS"})  # the base class; LBFGS runs its own line search
PARAMETER_METHODS = frozenset({"parameters", "named_parameters"})
# Fewer literal epochs is a demo or a short fine-tune (a 5-epoch run): a schedule changes little there.
# 8 keeps the 9-epoch MNIST tutorials our precision labels call true. Option `min-epochs`.
MIN_EPOCHS = 8
MIN_STEPS = 100  # a single loop of fewer literal steps is a smoke test or a toy, not a training run
# Reinforcement learning trains on a moving data distribution; a fixed rate is the usual recipe there.
RL_LIBRARIES = frozenset({"gym", "gymnasium", "dm_control", "stable_baselines3", "pettingzoo", "minigrid", "procgen"})
# What an optimizer's names say it trains, in a GAN: `optimizerD`, `netG.parameters()`, `opt_disc`, `critic`.
CRITIC_ROLES = frozenset({"d", "disc", "dis", "discriminator", "critic", "netd"})
GENERATOR_ROLES = frozenset({"g", "gen", "generator", "netg"})
NAME_NOISE = frozenset({"self", "optimizer", "optimiser", "optim", "opt", "net", "model", "parameters", "params", "module", "torch", "nn"})


class FixedLearningRate(Rule):
    code = "ADV301"
    runtime_unobservable = "a learning-rate schedule changes convergence, not step time: `advisor verify ADV301` measures it"
    name = "fixed-learning-rate"
    summary = "Optimizer trained over many epochs at a fixed learning rate (no scheduler)"
    message = (
        "Add a learning-rate schedule to this optimizer (StepLR, ReduceLROnPlateau, OneCycleLR or cosine "
        "annealing): the whole run uses one fixed rate; the gain depends on the task"
    )
    why = (
        "A rate large enough to make fast progress early keeps the weights bouncing around a minimum "
        "later; decaying it lets training settle, often to a lower loss in the same number of epochs. "
        "How much that helps depends on the model and data, so measure it."
    )
    suggestion = (
        "create `torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)` (or StepLR / "
        "ReduceLROnPlateau / OneCycleLR) and call `scheduler.step()` once per epoch (per batch for OneCycleLR)"
    )
    severity = Severity.INFO
    triggers = ("optim.", "torch.optim")  # `optim.SGD`, `torch.optim.SGD`, `import torch.optim as O`
    # Unsafe: a schedule changes what the model learns; the skeleton is a starting point to review.
    fix_safe = False
    fix_title = "add a cosine learning-rate schedule stepped once per epoch (a skeleton to tune)"
    # min-epochs: shorter literal runs are a demo or a fine-tune; gans: GAN recipes keep both rates fixed on
    # purpose (DCGAN's Adam at 2e-4), so optimizers trained adversarially are left alone unless asked.
    options = {"min-epochs": MIN_EPOCHS, "gans": False}
    docs = RuleDocs(
        what="Finds a `torch.optim` optimizer over a model's `.parameters()` whose `.step()` runs in a loop "
        "that is itself repeated "
        "(an epoch loop around the batch loop, a helper called once per epoch, or one long step loop) in a "
        "file with no `torch.optim.lr_scheduler`, no assignment to a param group's `\"lr\"`, no helper "
        "named like `adjust_learning_rate`, and no training framework (Lightning, Hugging Face Trainer, "
        "Accelerate, Ignite, fastai, Keras…) that would manage the rate. Each optimizer is checked on its own: "
        "a scheduler built on one does not cover another. Runs of fewer than 8 literal epochs (option "
        "`min-epochs`) and GANs, where one optimizer trains a discriminator or critic and another a generator "
        "and both keep a fixed rate by recipe (option `gans`), are left alone.",
        why="With a constant rate, SGD-style training stops improving once the gradient noise at that "
        "rate dominates. Schedules — step decay, cosine annealing, one-cycle, or lowering the rate when "
        "validation loss plateaus — are standard practice and often reach a lower loss in the same epoch "
        "budget. This is a quality change, not a speed-up, and the gain depends on the task: "
        "`advisor verify ADV301` measures it on a small synthetic problem.",
        example="""
            import torch

            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            for epoch in range(90):
                for x, y in loader:
                    loss = loss_fn(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """,
        use_instead="""
            import torch

            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=90)
            for epoch in range(90):
                for x, y in loader:
                    loss = loss_fn(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                scheduler.step()
        """,
        references=(
            "PyTorch docs: torch.optim, How to adjust learning rate",
            "PyTorch docs: torch.optim.lr_scheduler (StepLR, ReduceLROnPlateau, OneCycleLR, CosineAnnealingLR)",
        ),
    )

    @classmethod
    def pair_sizes(cls, lits: Literals, line: int, end_line: int) -> dict[str, Any]:
        """The nearest literal `for epoch in range(N)`."""
        epochs = nearest(lits.epoch_ranges, line)
        return {"epochs": epochs} if epochs else {}

    def finish(self) -> None:
        if self.ctx.uses_framework() or _reinforcement_learning(self.ctx):
            return
        optimizers = [c for c in _optimizer_candidates(self.ctx) if _is_optimizer(self.ctx, c) and self._trains_weights(c)]
        scheduled = _scheduled(self.ctx, {n for c in optimizers for n in _bound_names(self.ctx, c)})
        if scheduled is None or (not self.opts["gans"] and _adversarial(self.ctx, optimizers)):
            return
        for call in optimizers:
            if self.ctx.in_test_function(call) or _bound_names(self.ctx, call) & scheduled:
                continue
            run = self._repeated_training(call, only=len(optimizers) == 1)
            if run is None:
                continue
            count, unit = run
            span = f"all {count:,} {unit} use" if count else "the whole run uses"
            self.report(
                call,
                "Add a learning-rate schedule to this optimizer (StepLR, ReduceLROnPlateau, OneCycleLR or "
                f"cosine annealing): {span} one fixed rate; the gain depends on the task",
                confidence=Confidence.HIGH if count else Confidence.MEDIUM,
                fix=self._skeleton(call, several=len(optimizers) > 1),
            )

    @guarded
    def _skeleton(self, optimizer: cst.Call, several: bool = False) -> FixPlan | None:
        """`scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=<epochs>)` below the line
        that creates the optimizer, and `scheduler.step()` after the step loop inside the epoch loop.
        Offered only for that plain shape: `opt = torch.optim.X(...)` on its own line, and a
        `for ... in range(n)` epoch loop whose body holds the loop that calls `opt.step()`. With several
        optimizers in the file each gets its own scheduler, named after it (`optimizerD` → `schedulerD`)."""
        assign = self.ctx.parent(optimizer)
        stmt = self.ctx.parent(assign) if assign is not None else None  # Call → Assign → SimpleStatementLine
        names = _bound_names(self.ctx, optimizer)
        if len(names) != 1 or not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        (opt,) = names
        steps = [c for c in self.ctx.calls_by_attr.get("step", ()) if dotted_name(call_receiver(c)) == opt]
        loops = {id(lp): lp for lp in (self.ctx.innermost_loop(c) for c in steps) if lp is not None}
        if len(loops) != 1:
            return None
        (step_loop,) = loops.values()
        epochs = self.ctx.innermost_loop(step_loop)
        if (
            not isinstance(epochs, cst.For)
            or not isinstance(epochs.iter, cst.Call)
            or not _is_range(epochs.iter)
            or self.ctx.parent(step_loop) is not epochs.body
            or self.ctx.enclosing_function(epochs) is not self.ctx.enclosing_function(stmt)
        ):
            return None
        bounds = positional(epochs.iter)
        if len(bounds) != 1:
            return None
        t_max = node_code(bounds[0].value)
        torch = next((k for k, v in self.ctx.imports.items() if v == "torch"), None)
        ops: list[Op] = []
        if torch is None:
            if any(n.value == "torch" for n in self.ctx.nodes(cst.Name)):
                return None
            torch = "torch"
            ops.append(AddImport(stmt, "import torch"))
        base = _scheduler_name(opt) if several else "scheduler"
        taken = {n.value for n in self.ctx.nodes(cst.Name) if n.value.startswith(base)} if base in self.ctx.text else set()
        sched = fresh_name(taken, base)
        ops += [
            InsertAfter(stmt, f"{sched} = {torch}.optim.lr_scheduler.CosineAnnealingLR({opt}, T_max={t_max})"),
            InsertAfter(step_loop, f"{sched}.step()"),
        ]
        return self.plan(*ops)

    def _trains_weights(self, optimizer: cst.Call) -> bool:
        """The optimizer updates a module's parameters (`model.parameters()`, param groups built from
        them), not an input tensor (`SGD([image])` in feature visualisation, adversarial examples), where a
        schedule is beside the point. Parameters we cannot trace stay silent."""
        arg = optimizer.args[0] if optimizer.args and optimizer.args[0].keyword is None else None
        for a in optimizer.args:
            if a.keyword is not None and a.keyword.value == "params":
                arg = a
        return arg is not None and self._holds_parameters(arg.value, frozenset())

    def _holds_parameters(self, expr: cst.BaseExpression, seen: frozenset[str]) -> bool:
        for node in walk(expr):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in PARAMETER_METHODS:
                return True
            name = dotted_name(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
            if name is not None and name not in seen and name in self.ctx.bindings:
                if any(self._holds_parameters(v, seen | {name}) for v in self.ctx.bindings[name]):
                    return True
        return False

    def _repeated_training(self, optimizer: cst.Call, only: bool) -> tuple[int, str] | None:
        """How long the optimizer is stepped for: (count, "epochs" | "steps"), count 0 when it is not
        a literal; None when its steps do not run in a repeated loop we can see."""
        names = _bound_names(self.ctx, optimizer)
        counts: list[tuple[int, str]] = []
        for step in self.ctx.calls_by_attr.get("step", ()):
            if not self._steps(step, names, only) or self.ctx.in_test_function(step):
                continue
            for loop in self._step_loops(step):
                if any(a is loop for a in self.ctx.ancestors(optimizer)):
                    continue  # a fresh optimizer every iteration: nothing runs at one rate over time
                counts.extend(c for c in self._repetitions(loop) if c is not None)
        return max(counts) if counts else None

    def _step_loops(self, step: cst.Call) -> list[cst.For | cst.While]:
        """The loops that run this step once per iteration: its own loop, or — for a `train_step()` helper
        with no loop of its own — the loops its callers run it in."""
        loop = self.ctx.innermost_loop(step)
        if loop is not None:
            return [loop] if self.ctx.loop_facts(loop).is_step_loop else []
        func = self.ctx.enclosing_function(step)
        if func is None:
            return []
        loops = [self.ctx.innermost_loop(c) for c in self.ctx.calls_named(func.name.value)]
        return [lp for lp in loops if lp is not None and not self.ctx.in_test_function(lp)]

    def _steps(self, step: cst.Call, names: set[str], only: bool) -> bool:
        """`step` advances this optimizer: `opt.step()`, `scaler.step(opt)`, or — with one optimizer in
        the file — any optimizer-like `.step()` (it arrived through a parameter)."""
        receiver = dotted_name(call_receiver(step))
        if receiver in names or any(dotted_name(a.value) in names for a in positional(step)):
            return True
        return only and self.ctx.is_training_call(step)

    def _repetitions(self, loop: cst.For | cst.While) -> list[tuple[int, str] | None]:
        """Epoch counts around a step loop: an enclosing loop, a caller that runs in a loop, or the step
        loop itself when it counts iterations (`for it in range(max_iters)`, `while step < n`)."""
        out: list[tuple[int, str] | None] = []
        outer = self.ctx.innermost_loop(loop)
        if _environment_loop(loop) or (outer is not None and _environment_loop(outer)):
            return out  # reinforcement learning: episodes of a moving target, not epochs over data
        min_epochs = self.opts["min-epochs"]
        if outer is not None:
            out.append(_count(self.ctx, outer, min_epochs, "epochs"))
        func = self.ctx.enclosing_function(loop)
        if func is not None:
            for call in self.ctx.calls_named(func.name.value):
                caller_loop = self.ctx.innermost_loop(call)
                if caller_loop is not None and not self.ctx.in_test_function(caller_loop):
                    out.append(_count(self.ctx, caller_loop, min_epochs, "epochs"))
        if isinstance(loop, cst.While) or _is_range(loop.iter):
            out.append(_count(self.ctx, loop, MIN_STEPS, "steps"))
        return out


def _environment_loop(loop: cst.For | cst.While) -> bool:
    """A loop over episodes (`for episode in ...`), one that steps an environment (`env.step(action)`),
    or one that drives episode helpers (`agent.run_episode()`, `finish_episode()`)."""
    if isinstance(loop, cst.For) and any("episode" in n.lower() for n in _target_names(loop.target)):
        return True
    for node in walk(loop.body):
        if not isinstance(node, cst.Call):
            continue
        if "episode" in (callee_name(node) or "").lower():
            return True
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "step":
            receiver = (dotted_name(call_receiver(node)) or "").rsplit(".", 1)[-1].lower()
            if "env" in receiver:
                return True
    return False


def _target_names(target: cst.BaseExpression) -> list[str]:
    return [n.value for n in walk(target) if isinstance(n, cst.Name)]


def _reinforcement_learning(ctx: FileContext) -> bool:
    return any(v.split(".")[0] in RL_LIBRARIES for v in ctx.imports.values())


def _optimizer_candidates(ctx: FileContext) -> list[cst.Call]:
    """The calls that may build a `torch.optim` optimizer, in document order: its class is named
    (`optim.SGD(...)`) or imported by name. The rest cannot resolve to one."""
    return [
        c
        for c in ctx.nodes(cst.Call)
        if (type(c.func) is cst.Attribute and c.func.attr.value[:1].isupper())
        or (type(c.func) is cst.Name and c.func.value in ctx.imports)
    ]


def _is_optimizer(ctx: FileContext, call: cst.Call) -> bool:
    q = ctx.call_qualname(call)
    if q is None or not q.startswith("torch.optim.") or q.startswith(("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")):
        return False
    tail = q.rsplit(".", 1)[-1]
    return tail[:1].isupper() and tail not in NOT_OPTIMIZERS


def _scheduled(ctx: FileContext, optimizers: set[str]) -> set[str] | None:
    """The optimizers whose rate something changes: a scheduler built on it, a param group's "lr" written,
    a helper named for it (`adjust_learning_rate(opt, epoch)`), SWA's schedule. None when something
    changes a rate and we cannot tell whose: then every optimizer in the file counts as managed."""
    out: set[str] = set()
    seen_scheduler = False
    for call in _rate_calls(ctx):
        name = dotted_name(call.func) or ""
        receiver, _, method = name.rpartition(".")
        if _builds_schedule(ctx, call):
            seen_scheduler = True
            named = {dotted_name(a.value) for a in call.args if a.keyword is None or a.keyword.value == "optimizer"}
            owners = {n for n in named if n is not None and n in optimizers}
            if not owners:
                return None
            out |= owners
        elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "update" and any(
            a.keyword is not None and a.keyword.value == "lr" for a in call.args
        ):
            return None  # param_group.update(lr=...)
        elif receiver and LR_HELPER.search(receiver) and not any(
            isinstance(v, cst.Call) and _builds_schedule(ctx, v) for v in ctx.bindings.get(receiver, ())
        ):
            return None  # `scheduler.step()` on a scheduler made elsewhere (a parameter, another module)
    if not seen_scheduler and any(v.startswith(("torch.optim.lr_scheduler", "torch.optim.swa_utils")) for v in ctx.imports.values()):
        return None  # imported but built where we cannot follow (a factory, getattr)
    assignments: list[cst.Assign | cst.AugAssign] = [*ctx.nodes(cst.Assign), *ctx.nodes(cst.AugAssign)]
    if not any(_indexes_lr(s) for s in ctx.nodes(cst.Subscript)):
        assignments = []  # no `x["lr"]` anywhere: no assignment writes a rate
    for node in assignments:
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        for target in targets:
            if not _writes_lr(target):
                continue
            owner = _param_group_owner(ctx, target)
            if owner is None or owner not in optimizers:
                return None
            out.add(owner)
    return out


def _rate_calls(ctx: FileContext) -> list[cst.Call]:
    """The calls `_scheduled` looks at, in document order: a name that resolves into the lr_scheduler /
    SWA modules or reads like a rate helper, or an `.update(...)`. Decided once per callee name."""
    relevant: dict[str, bool] = {}
    out: list[cst.Call] = []
    for call in ctx.nodes(cst.Call):
        name = dotted_name(call.func)
        if name is None:
            keep = call_attr(call) == "update"
        else:
            keep_name = relevant.get(name)
            if keep_name is None:
                q = ctx.qualname(call.func) or ""
                keep_name = relevant[name] = (
                    name.rpartition(".")[2] == "update"
                    or LR_HELPER.search(name) is not None
                    or q.startswith(("torch.optim.lr_scheduler.", "torch.optim.swa_utils.SWALR"))
                )
            keep = keep_name
        if keep:
            out.append(call)
    return out


def _builds_schedule(ctx: FileContext, call: cst.Call) -> bool:
    """`StepLR(opt, ...)`, `SWALR(opt, ...)`, or a helper named for the rate (`adjust_learning_rate(opt, e)`,
    `get_cosine_schedule_with_warmup(opt, ...)`); not a method of one (`scheduler.step()`)."""
    q = ctx.call_qualname(call) or ""
    if q.startswith(("torch.optim.lr_scheduler.", "torch.optim.swa_utils.SWALR")):
        return True
    name = dotted_name(call.func)
    return name is not None and bool(LR_HELPER.search(name.rsplit(".", 1)[-1]))


def _param_group_owner(ctx: FileContext, target: cst.BaseExpression) -> str | None:
    """Whose param group `target` writes: `opt.param_groups[0]["lr"]` → opt; `group["lr"]` inside
    `for group in opt.param_groups` → opt."""
    for node in walk(target):
        if isinstance(node, cst.Attribute) and node.attr.value == "param_groups":
            return dotted_name(node.value)
    base = target.value if isinstance(target, cst.Subscript) else None
    group = dotted_name(base) if base is not None else None
    for loop in ctx.nodes(cst.For):
        it = loop.iter
        if (
            isinstance(loop.target, cst.Name)
            and loop.target.value == group
            and isinstance(it, cst.Attribute)
            and it.attr.value == "param_groups"
        ):
            return dotted_name(it.value)
    return None


def _roles(ctx: FileContext, optimizer: cst.Call) -> set[str]:
    """The words an optimizer's names are made of, less the generic ones: `optimizerD` → {"d"},
    `torch.optim.Adam(netG.parameters())` bound to `opt_g` → {"g", "netg"}."""
    names = set(_bound_names(ctx, optimizer))
    if optimizer.args:
        names |= {n for n in (dotted_name(x) for x in walk(optimizer.args[0].value) if isinstance(x, (cst.Name, cst.Attribute))) if n}
    words: set[str] = set()
    for name in names:
        for part in re.split(r"[._]", name):
            words.add(part.lower())
            words |= {w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", part)}
    return words - NAME_NOISE


def _adversarial(ctx: FileContext, optimizers: list[cst.Call]) -> bool:
    """A GAN: one optimizer trains a discriminator (critic) and another a generator."""
    roles = [_roles(ctx, c) for c in optimizers]
    return any(r & CRITIC_ROLES for r in roles) and any(r & GENERATOR_ROLES for r in roles)


def _scheduler_name(optimizer: str) -> str:
    """`optimizerD` → `schedulerD`, `opt_g` → `sched_g`, `encoder_opt` → `encoder_opt_scheduler`."""
    last = optimizer.rsplit(".", 1)[-1]
    if "optimizer" in last:
        return last.replace("optimizer", "scheduler")
    if last.startswith("opt"):
        return "sched" + last[3:]
    return f"{last}_scheduler"


def _writes_lr(target: cst.BaseExpression) -> bool:
    """`group["lr"] = ...`, `opt.param_groups[0]["lr"] *= 0.1`."""
    return any(isinstance(node, cst.Subscript) and _indexes_lr(node) for node in walk(target))


def _indexes_lr(node: cst.Subscript) -> bool:
    """`x["lr"]`, `x["learning_rate"]`."""
    for element in node.slice:
        index = element.slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
            source = index.value.value
            if "lr" not in source and "learning_rate" not in source and "\\" not in source:
                continue  # without an escape the text spells the value out: not "lr" (evaluating is slow)
            if index.value.evaluated_value in ("lr", "learning_rate"):
                return True
    return False


def _bound_names(ctx: FileContext, call: cst.Call) -> set[str]:
    parent = ctx.parent(call)
    out: set[str] = set()
    if isinstance(parent, cst.Assign) and parent.value is call:
        for t in parent.targets:
            name = dotted_name(t.target)
            if name:
                out.add(name)
    elif isinstance(parent, cst.AnnAssign) and parent.value is call:
        name = dotted_name(parent.target)
        if name:
            out.add(name)
    return out


def _is_range(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value in ("range", "trange")


def _count(ctx: FileContext, loop: cst.For | cst.While, minimum: int, unit: str) -> tuple[int, str] | None:
    """The literal repetition count of `loop` (`range(90)`, `range(1, 91)`, `range(max_iters)` with a
    literal `max_iters`), 0 when it is not a literal; None below `minimum` (a smoke test)."""
    if isinstance(loop, cst.For) and isinstance(loop.iter, cst.Call) and _is_range(loop.iter):
        bounds = [_int_literal(ctx, a.value) for a in positional(loop.iter)]
        n: int | None = None
        if len(bounds) == 1:
            n = bounds[0]
        elif len(bounds) == 2 and bounds[0] is not None and bounds[1] is not None:
            n = bounds[1] - bounds[0]
        if n is not None:
            return (n, unit) if n >= minimum else None
    return (0, unit)


def _int_literal(ctx: FileContext, expr: cst.BaseExpression) -> int | None:
    value = literal(ctx, expr)
    return int_value(value) if value is not None else None
