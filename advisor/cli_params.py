"""Option types the click built-ins get wrong for us: `FloatRange` lets NaN through (every comparison
with NaN is false) and accepts `inf` or 1e308 seconds, which no timer or child limit can use."""

from __future__ import annotations

import math
from typing import Any

import click

MAX_TIMEOUT_S = 24 * 3600.0


class Seconds(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click; the base works in all
    """A finite number of seconds from 1 to a day."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or not 1 <= seconds <= MAX_TIMEOUT_S:
            self.fail(f"{value} is not a number of seconds from 1 to {MAX_TIMEOUT_S:g}", param, ctx)
        return seconds


SECONDS = Seconds()
