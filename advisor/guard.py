"""One way out for bugs: an unexpected exception in a command becomes one line on stderr and exit 2.

Exit 1 means "findings"; a traceback (which Python exits with 1) would tell CI that a crash was a
finding. `--debug` (or ADVISOR_DEBUG=1) still shows the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager
from typing import Iterator, NoReturn

EXIT_ERROR = 2


@contextmanager
def internal_errors_exit_2(command: str, debug: bool = False) -> Iterator[None]:
    """`debug`: the command's `--debug` (Config.debug), which also prints the traceback."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the point is to catch what nothing else did
        exit_internal_error(command, exc, debug)


def exit_internal_error(command: str, exc: BaseException, debug: bool = False) -> NoReturn:
    """Say in one line that `advisor COMMAND` hit a bug (the traceback only under --debug); exit 2."""
    if debug or os.environ.get("ADVISOR_DEBUG"):
        traceback.print_exception(exc)
    first = (str(exc).splitlines() or [""])[0][:200]
    print(f"advisor: internal error in `advisor {command}` ({type(exc).__name__}: {first}) — please report it", file=sys.stderr)
    sys.exit(EXIT_ERROR)
