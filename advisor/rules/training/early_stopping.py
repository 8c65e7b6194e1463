"""ADV304: a long training run that validates every epoch but never stops early or keeps the best model."""

from __future__ import annotations

import re

import libcst as cst

from advisor.syntax import callee_name, positional
from advisor.rule import Rule, RuleDocs
from advisor.rules._training import literal
from advisor.rules.training._mentions import Mentions
from advisor.types import Confidence, Severity

VALIDATION = re.compile(r"(^|_)(val|valid|validate|validation|eval|evaluate|evaluation|test)($|_)", re.IGNORECASE)
# The file already uses its validation metric for something: keeping the best model, patience, plateau.
USES_METRIC = Mentions(("best", "patience", "early", "stopping", "plateau", "checkpoint"))
MIN_EPOCHS = 20


class NoEarlyStopping(Rule):
    code = "ADV304"
    name = "no-early-stopping"
    summary = "Many epochs with a validation metric every epoch, but no early stopping or best checkpoint"
    message = "Stop early (or keep the best checkpoint) when the validation metric stops improving"
    severity = Severity.INFO
    why = (
        "The run validates after every epoch but trains for the full count whatever the metric does; once "
        "validation stops improving, the remaining epochs cost time and may overfit."
    )
    suggestion = "track the best validation metric, save the model when it improves, and stop after `patience` epochs without improvement"
    triggers = ("val", "eval", "test")
    no_pair_reason = (
        "the gain is the epochs not run after the validation metric stops improving, which depends on the "
        "data and model, not on code a fixed pair can reproduce"
    )
    docs = RuleDocs(
        what=f"Finds a training loop over `range(N)` with a literal N of at least {MIN_EPOCHS} that calls a "
        "validation function (`validate(...)`, `evaluate(...)`, `test(...)`, `val_epoch(...)`) on every "
        "iteration, in a file that never mentions keeping the best model, patience, early stopping, a "
        "plateau scheduler or checkpoints, and is not driven by a training framework. Advice (info, low "
        "confidence): a fixed schedule can be deliberate (a paper's recipe, a cosine schedule to the end).",
        why="Validation every epoch is only useful if its result decides something. Early stopping ends the "
        "run once the metric has not improved for a few epochs, and keeping the best checkpoint means the "
        "final (possibly overfitted) weights are not the ones you ship.",
        example="""
            def train_one_epoch(model, loader, optimizer):
                for x, y in loader:
                    loss = criterion(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()

            for epoch in range(200):
                train_one_epoch(model, train_loader, optimizer)
                accuracy = evaluate(model, val_loader)
                print(epoch, accuracy)
        """,
        use_instead="""
            best, waited, patience = 0.0, 0, 10
            for epoch in range(200):
                train_one_epoch(model, train_loader, optimizer)
                accuracy = evaluate(model, val_loader)
                if accuracy > best:
                    best, waited = accuracy, 0
                    torch.save(model.state_dict(), "best.pt")
                else:
                    waited += 1
                    if waited >= patience:
                        break
        """,
        references=(
            "PyTorch tutorial: Saving and Loading Models (saving the best model's state_dict)",
            "PyTorch docs: torch.optim.lr_scheduler.ReduceLROnPlateau (acting on a validation metric)",
        ),
    )

    _file_decides: bool | None = None  # the file's text shows the metric is used (searched once per file)

    def visit_For(self, node: cst.For) -> None:
        if self._file_decides is None:
            self._file_decides = self.ctx.uses_framework() or USES_METRIC.search(self.ctx.text)
        if self._file_decides:
            return
        epochs = self._epochs(node.iter)
        if epochs is None or epochs < MIN_EPOCHS or self.ctx.in_test_function(node) or not self.ctx.loop_facts(node).is_training_loop:
            return
        for call in self.ctx.calls_in_body(node):
            name = callee_name(call)
            if name is not None and VALIDATION.search(name) and not self.ctx.is_conditional_within(call, node):
                # `model.eval()` switches the model to evaluation for an inline validation pass
                what = "the model is evaluated" if name == "eval" and not call.args else f"`{name}(...)` runs"
                self.report(
                    call,
                    f"Stop early or keep the best checkpoint: {what} every epoch of {epochs}, but the result never decides anything",
                    confidence=Confidence.LOW,
                )
                return

    def _epochs(self, expr: cst.BaseExpression) -> int | None:
        if not isinstance(expr, cst.Call) or callee_name(expr) != "range" or not isinstance(expr.func, cst.Name):
            return None
        args = positional(expr)
        if len(args) not in (1, 2):
            return None
        value = literal(self.ctx, args[-1].value)
        return int(value.value, 0) if isinstance(value, cst.Integer) else None
