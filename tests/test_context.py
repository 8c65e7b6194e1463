"""The shared context rules rely on: import resolution, training-loop detection, what names hold."""

from __future__ import annotations

import textwrap

import libcst as cst

from advisor.context import build_context
from advisor.kinds import move_target


def ctx_of(code: str):
    text = textwrap.dedent(code)
    return build_context(cst.parse_module(text), text, "t.py")


def loops(ctx):
    return ctx.nodes_by_type.get("For", []) + ctx.nodes_by_type.get("While", [])


def test_qualname_resolves_aliases_and_ignores_local_lookalikes():
    ctx = ctx_of(
        """
        import torch as T
        import torch.utils.data as tud
        from torch.utils.data import DataLoader as DL
        from numpy import matmul
        class DataLoader: ...
        a = T.zeros(3)
        b = tud.DataLoader(ds)
        c = DL(ds)
        d = DataLoader(ds)
        e = matmul(x, y)
        """
    )
    calls = {cst.Module([]).code_for_node(c.func): ctx.call_qualname(c) for c in ctx.nodes_by_type["Call"]}
    assert calls == {
        "T.zeros": "torch.zeros",
        "tud.DataLoader": "torch.utils.data.DataLoader",
        "DL": "torch.utils.data.DataLoader",
        "DataLoader": None,
        "matmul": "numpy.matmul",
    }


def test_step_loop_epoch_loop_and_helper_functions():
    ctx = ctx_of(
        """
        def step(model, batch, opt):
            loss = model(batch).sum()
            loss.backward()
            opt.step()

        def train_epoch(model, loader, opt):
            for batch in loader:
                step(model, batch, opt)

        for epoch in range(10):
            train_epoch(model, loader, opt)

        for epoch in range(3):
            for batch in loader:
                out = model(batch)
                out.mean().backward()

        for batch in test_loader:
            preds = model(batch)
        """
    )
    facts = [(ctx.loop_facts(l).is_step_loop, ctx.loop_facts(l).is_training_loop) for l in loops(ctx)]
    # order: train_epoch's loop, epoch loop calling train_epoch, epoch loop, its inner loop, eval loop
    assert sorted(facts) == sorted([(True, True), (False, True), (False, True), (True, True), (False, False)])


def test_rl_env_step_is_not_training():
    ctx = ctx_of(
        """
        for t in range(1000):
            obs, reward, done, info = env.step(action)
            scheduler.step()
        """
    )
    assert not ctx.loop_facts(loops(ctx)[0]).is_training_loop


def test_kind_of_names():
    ctx = ctx_of(
        """
        import torch
        from torch import nn, optim
        from torch.utils.data import DataLoader, TensorDataset
        class Net(nn.Module): ...
        class Deeper(Net): ...
        model = Deeper()
        other = build_model()
        opt = optim.Adam(other.parameters())
        sched = optim.lr_scheduler.StepLR(opt, 10)
        ds = TensorDataset(x, y)
        loader = DataLoader(ds, batch_size=32)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dev2 = "cuda"
        t = torch.zeros(3)
        """
    )
    kinds = {n: ctx.kind_of(cst.Name(n)) for n in ("model", "other", "opt", "sched", "ds", "loader", "device", "dev2", "t")}
    assert kinds == {
        "model": "model",
        "other": "model",  # its parameters feed an optimizer
        "opt": "optimizer",
        "sched": "scheduler",
        "ds": "dataset",
        "loader": "dataloader",
        "device": "device",
        "dev2": "device",
        "t": "tensor",
    }


def test_move_target_tells_devices_from_dtypes():
    ctx = ctx_of(
        """
        import torch
        a.to(device)
        a.to("cuda:1")
        a.to(torch.float16)
        a.to(dtype=torch.half)
        a.cuda()
        a.to(other)
        a.to(args.device)
        a.to(memory_format=torch.channels_last)
        """
    )
    got = [move_target(ctx, c) for c in ctx.nodes_by_type["Call"] if c.func.attr.value in ("to", "cuda")]
    assert got == ["device", "device", None, None, "device", "unknown", "device", None]


def test_conditional_within_loop():
    ctx = ctx_of(
        """
        for x in loader:
            a = x.item()
            if step % 10 == 0:
                b = x.item()
            if x.item() > 0:
                pass
            c = y if flag else x.item()
        """
    )
    loop = loops(ctx)[0]
    items = [c for c in ctx.nodes_by_type["Call"] if c.func.attr.value == "item"]
    assert [ctx.is_conditional_within(c, loop) for c in items] == [False, True, False, True]


def test_torch_from_a_star_import_resolves_but_a_local_torch_does_not():
    star = ctx_of(
        """
        import torch.nn as nn
        from helpers import *
        x = torch.zeros(3)
        """
    )
    assert star.call_qualname(star.nodes_by_type["Call"][0]) == "torch.zeros"
    plain = ctx_of("x = torch.zeros(3)\n")
    assert plain.call_qualname(plain.nodes_by_type["Call"][0]) is None
    shadowed = ctx_of(
        """
        from helpers import *
        torch = make_fake()
        x = torch.zeros(3)
        """
    )
    assert shadowed.call_qualname(shadowed.nodes_by_type["Call"][-1]) is None


def test_cuda_in_a_comment_is_not_cuda_code_and_cpu_devices_are_known():
    ctx = ctx_of(
        """
        import torch
        dev = torch.device("cpu")
        # dev = torch.device("cuda")
        other = "cpu" if flag else "cpu"
        """
    )
    assert not ctx.runs_on_cuda
    assert ctx.is_cpu_device(cst.Name("dev"))
    assert not ctx.is_cpu_device(cst.Name("other"))  # an IfExp is not resolved: unknown, not CPU
    assert ctx_of('import torch\nd = torch.device("cuda")  # gpu\n').runs_on_cuda


def test_a_helper_given_the_loss_and_an_optimizer_is_a_training_step():
    ctx = ctx_of(
        """
        import torch
        for x in loader:
            loss = model(x).sum()
            loss_scaler(loss, optimizer, parameters=model.parameters())
        for epoch in range(3):
            save_state(model, optimizer, epoch)
        """
    )
    first, second = loops(ctx)
    assert ctx.loop_facts(first).is_step_loop
    assert not ctx.loop_facts(second).is_training_loop


def test_loop_facts_from_the_index_match_the_loop_body_rules():
    ctx = ctx_of(
        """
        for epoch in range(3):
            def hook(g):
                g.backward()
            for x in loader:
                y = model(x)
                y.backward()
            total = epoch
        for z in data:
            fn = lambda t: t.backward()
            w = z
        """
    )
    outer, inner, other = loops(ctx)[0], loops(ctx)[1], loops(ctx)[2]
    assert (ctx.loop_facts(outer).is_step_loop, ctx.loop_facts(outer).is_training_loop) == (False, True)
    assert ctx.loop_facts(inner).is_step_loop
    assert not ctx.loop_facts(other).is_training_loop  # a lambda's body does not run per iteration
    assert {"epoch", "x", "y", "total"} <= ctx.loop_facts(outer).assigned
    assert "g" not in ctx.loop_facts(outer).assigned  # bindings inside a nested function stay there
    assert ctx.loop_facts(other).assigned >= {"z", "fn", "w"}
    body = [cst.Module([]).code_for_node(c) for c in ctx.calls_in_body(inner)]
    assert body == ["model(x)", "y.backward()"]
    assert ctx.calls_in_body(outer) == []  # `range(3)` is the iterable, the nested calls belong to others


def test_calls_to_finds_every_spelling_of_a_name_in_document_order_and_nothing_else():
    """`calls_to` looks only at calls named like the target; it must still find every spelling that
    `call_qualname` resolves (module alias, imported alias, full path) and skip local look-alikes."""
    ctx = ctx_of(
        """
        import torch.utils.data as tud
        from torch.utils.data import DataLoader as DL
        import torch
        a = DL(ds)
        b = tud.DataLoader(ds)
        c = torch.utils.data.DataLoader(ds)
        d = make_loader(ds)
        class Loader: ...
        e = Loader(ds)
        """
    )
    wanted = frozenset({"torch.utils.data.DataLoader"})
    found = ctx.calls_to(wanted)
    every = [c for c in ctx.nodes(cst.Call) if ctx.call_qualname(c) in wanted]
    assert [cst.Module([]).code_for_node(c.func) for c in found] == ["DL", "tud.DataLoader", "torch.utils.data.DataLoader"]
    assert [id(c) for c in found] == [id(c) for c in every]
    assert ctx.calls_to(frozenset({"torch.optim.SGD"})) == []


def test_a_callee_aliased_to_autograd_backward_is_a_training_call():
    ctx = ctx_of(
        """
        from torch.autograd import backward as bw
        for x in data:
            bw(loss_fn(x))
        """
    )
    (call,) = [c for c in ctx.nodes(cst.Call) if cst.Module([]).code_for_node(c.func) == "bw"]
    assert ctx.is_training_call(call)
    assert ctx.loop_facts(loops(ctx)[0]).is_step_loop
