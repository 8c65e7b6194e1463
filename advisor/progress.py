"""Progress of long runs (many files, `--verify` pairs) on stderr: the current item, how far, an estimate.

On a terminal one status line is redrawn in place and erased when the run ends, and only once the run has
lasted `delay` seconds, so a quick scan never flickers. Off a terminal nothing is drawn; runs that ask
for it (`--verify`, whose pairs take seconds each) print one plain line per finished item instead, so a
CI log is never silent. Progress never goes to stdout, where machine-readable reports are written.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Callable, Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """`label done/total: current — elapsed, about N left` on one redrawn terminal line."""

    def __init__(
        self, label: str, total: int, *, stream: TextIO | None = None, delay: float = 0.5,
        finished_lines: bool = False, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total = label, total
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = is_terminal(self.stream)
        self.finished_lines = finished_lines and not self.terminal
        self.delay, self.clock = delay, clock
        self.done = 0
        self.current = ""
        self.started = clock()
        self._item_started = self.started
        self._width = 0  # characters of the line now on screen, to erase it

    # ---------------------------------------------------------------- events
    def start(self, name: str) -> None:
        """An item begins: it becomes the one shown as current."""
        self.current = name
        self._item_started = self.clock()
        self._draw()

    def finish(self, name: str | None = None) -> None:
        """An item ended (the current one unless named)."""
        self.done += 1
        finished = name if name is not None else self.current
        if self.finished_lines:
            took = self.clock() - self._item_started
            self.stream.write(f"advisor: {self.label} {self.done}/{self.total}: {finished} done in {took:.1f} s\n")
            self.stream.flush()
        if name is not None:
            self.current = name
        self._draw()

    def close(self) -> None:
        """Erase the status line, so what follows on stderr starts on a clean line."""
        if self.terminal and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---------------------------------------------------------------- drawing
    def line(self) -> str:
        elapsed = self.clock() - self.started
        text = f"advisor: {self.label} {self.done}/{self.total}"
        if self.current:
            text += f": {self.current}"
        text += f" — {_duration(elapsed)}"
        if self.done and self.done < self.total:
            text += f", about {_duration(elapsed / self.done * (self.total - self.done))} left"
        return text

    def _draw(self) -> None:
        if not self.terminal or self.clock() - self.started < self.delay:
            return
        text = self.line()
        columns = shutil.get_terminal_size((100, 24)).columns
        text = text if len(text) < columns else text[: max(columns - 2, 10)] + "…"
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)


def track(
    items: Iterable[T], total: int, label: str, name: Callable[[T], str] = str, *,
    finished_lines: bool = False, stream: TextIO | None = None,
) -> Iterator[T]:
    """Yield the items, showing each as current while the caller works on it."""
    with Progress(label, total, stream=stream, finished_lines=finished_lines) as progress:
        for item in items:
            progress.start(name(item))
            yield item
            progress.finish()
