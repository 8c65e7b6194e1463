"""Which Python frames are the user's: the line a runtime event is charged to is the innermost frame
outside the standard library, site-packages, torch and advisor itself; the library frames between it
and the event are folded into one `via` entry (the library function the user called).

Child-only, but imports nothing heavy, so the tests can exercise it directly.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from types import CodeType, FrameType

Site = tuple[str, int, str]  # (absolute path, line, function)


def library_roots(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Folders whose files count as library code."""
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the advisor package
    roots.update(extra)
    return tuple(sorted({os.path.realpath(r) + os.sep for r in roots}))


class FrameFilter:
    """Caches, per code object, whether it is user code (realpath is too slow to run per event)."""

    def __init__(self, roots: tuple[str, ...]) -> None:
        self.roots = roots
        self._user: dict[CodeType, str | None] = {}

    def user_path(self, code: CodeType) -> str | None:
        """The absolute path of the code's file when it is user code, else None."""
        try:
            return self._user[code]
        except KeyError:
            name = code.co_filename
            path: str | None = None
            if name and not name.startswith("<"):
                try:
                    if not os.path.realpath(name).startswith(self.roots):
                        path = os.path.abspath(name)
                except OSError:  # a relative name after the script left (and deleted) its folder
                    path = None
            self._user[code] = path
            return path

    def attribute(self, frame: FrameType | None, depth: int = 3) -> tuple[list[Site], str]:
        """The user frames (innermost first, at most `depth`) and the library entry point they called."""
        users: list[Site] = []
        via = ""
        while frame is not None and len(users) < depth:
            code = frame.f_code
            path = self.user_path(code)
            if path is not None:
                users.append((path, frame.f_lineno, code.co_name))
            elif not users:
                via = f"{short_library_path(code.co_filename)}:{code.co_name}"
            frame = frame.f_back
        return users, via

    def caller(self, skip: int = 1) -> Site | None:
        """The innermost user frame above the caller of this method."""
        users, _ = self.attribute(sys._getframe(skip + 1), depth=1)
        return users[0] if users else None


def short_library_path(filename: str) -> str:
    """`.../site-packages/torch/nn/functional.py` -> `torch/nn/functional.py`, for folded frames."""
    parts = filename.replace(os.sep, "/").split("/")
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(anchor):])
    for i, part in enumerate(parts):
        if part in ("torch", "advisor"):
            return "/".join(parts[i:])
    return "/".join(parts[-2:])
