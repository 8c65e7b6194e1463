"""What the training-DataLoader rules (ADV202–ADV204) share: visit each DataLoader once the file is indexed.

The loader rules only speak about a DataLoader whose batches we can follow into a loop that trains
(see `advisor/rules/_training.py`); values that arrive through `**kwargs`, `args.batch_size` or a config
object are not literals, so they are never reported.
"""

from __future__ import annotations

import libcst as cst

from advisor.syntax import has_star_args
from advisor.rule import Rule
from advisor.rules._training import LoaderUse, all_loader_uses

TRIGGERS = ("DataLoader",)

class _LoaderRule(Rule):
    """Shared: visit each DataLoader(...) once the whole file is indexed, skip loaders we cannot read."""

    triggers = TRIGGERS

    def finish(self) -> None:
        for call, all_uses in all_loader_uses(self.ctx):
            if has_star_args(call):
                continue  # arguments we cannot see may set exactly what we would ask for
            uses = [u for u in all_uses if u.training]
            if uses:
                self.check(call, uses)

    def check(self, call: cst.Call, uses: list[LoaderUse]) -> None:
        raise NotImplementedError
