"""What the training-DataLoader rules (ADV202–ADV204) share: visit each DataLoader once the file is indexed.

The loader rules only speak about a DataLoader whose batches we can follow into a loop that trains
(see `advisor/rules/_training.py`), in this file or, for a loader a function returns, in another file
of the scanned project (`advisor/rules/_elsewhere.py`); values that arrive through `**kwargs`, `args.batch_size` or a config
object are not literals, so they are never reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from advisor.syntax import has_star_args
from advisor.rule import Rule
from advisor.rules._elsewhere import loaders_elsewhere
from advisor.rules._training import LoaderUse, all_loader_uses

if TYPE_CHECKING:
    from advisor.rules._elsewhere import LoaderElsewhere

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
            elif not all_uses:
                elsewhere = loaders_elsewhere(self.ctx, call)
                if elsewhere:
                    self.check_elsewhere(call, elsewhere)

    def check(self, call: cst.Call, uses: list[LoaderUse]) -> None:
        raise NotImplementedError

    def check_elsewhere(self, call: cst.Call, uses: "list[LoaderElsewhere]") -> None:
        """The loader is returned to another file of the project that trains on it (`uses`); a rule
        that can judge it from the call and those facts overrides this."""
