"""Read a file's bytes and decode them the way Python would, or explain in one line why not.

Encoding follows PEP 263 (coding cookie, UTF-8 BOM); line endings are kept exactly, so columns and
autofix offsets refer to the file as it is on disk.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path


COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+", re.MULTILINE)


class SourceError(Exception):
    """A file that cannot be analysed; str(error) is the user-facing `what — what to do`."""


def read_bytes(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise SourceError("is a directory named like a Python file — rename it or pass the files inside it")
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError("no such file or directory — check the path") from None
    except PermissionError:
        raise SourceError("cannot read the file (permission denied) — check its permissions") from None
    except IsADirectoryError:
        raise SourceError("is a directory — pass the directory itself, not a file inside it") from None
    except OSError as exc:
        raise SourceError(f"cannot read the file ({exc.strerror or exc}) — check that it is a regular file") from None


def decode(data: bytes) -> str:
    """Bytes to text: NUL bytes and undecodable bytes are errors, never silently replaced."""
    return decode_with_encoding(data)[0]


def decode_with_encoding(data: bytes) -> tuple[str, str]:
    """Text and the codec that reproduces the bytes (`utf-8-sig` when there is a BOM), for writing back."""
    nul = data.find(b"\x00")
    if nul != -1:
        raise SourceError(f"contains a NUL byte at offset {nul} — is it a binary file? exclude it or fix the file")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if COOKIE.search(b"\n".join(data.splitlines()[:2])):
            raise SourceError(f"bad encoding declaration ({exc}) — fix the `# -*- coding: … -*-` line") from None
        encoding = "utf-8"  # no cookie: the bytes themselves are not UTF-8, reported below
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise SourceError(
            f"cannot decode as {encoding} (byte 0x{bad} at offset {exc.start}) — save the file as UTF-8 "
            "or declare its encoding with a `# -*- coding: … -*-` line"
        ) from None
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r} — declare a codec Python knows") from None


def read_source(path: Path) -> str:
    return decode(read_bytes(path))
