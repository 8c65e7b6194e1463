"""Read a file's bytes and decode them the way Python would, or explain in one line why not.

Encoding follows PEP 263 (coding cookie, UTF-8 BOM); line endings are kept exactly, so columns and
autofix offsets refer to the file as it is on disk.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import tokenize
from pathlib import Path


COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+", re.MULTILINE)
# Larger files are skipped: libcst's tree costs ~550 bytes per source byte (a 1.4 MB torch test module
# peaks at 780 MB), so one 20 MB generated file once took 16 GB. 1 MB keeps a `-j 2` scan under 1 GB.
# Configurable as `max-file-size` / `--max-file-size`.
DEFAULT_MAX_FILE_SIZE = 1024 * 1024


class SourceError(Exception):
    """A file that cannot be analysed; str(error) is the user-facing `what — what to do`."""


def display_path(path: Path | str) -> str:
    """A path as users see it: bytes that are not UTF-8 (kept by Python as lone surrogates) become
    `\\xNN` escapes, so every writer (JSON, SARIF, HTML, the terminal, the cache) can encode it."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")


def human_size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB" if n >= 1024 else f"{n} bytes"


def read_bytes(path: Path, max_size: int | None = DEFAULT_MAX_FILE_SIZE) -> bytes:
    """The file's bytes, from a regular file only and at most `max_size` of them (None: no bound).

    Opened non-blocking and checked with fstat before reading, so a FIFO, a terminal or a link to
    /dev/zero or /dev/stdin named `*.py` is refused at once instead of hanging or filling memory."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SourceError("no such file or directory — check the path") from None
    except PermissionError:
        raise SourceError("cannot read the file (permission denied) — check its permissions") from None
    except IsADirectoryError:
        raise SourceError("is a directory named like a Python file — rename it or pass the files inside it") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SourceError("is a symbolic link loop — fix or remove the link, or exclude it") from None
        raise SourceError(f"cannot read the file ({exc.strerror or exc}) — check that it is a regular file") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SourceError("is a directory named like a Python file — rename it or pass the files inside it")
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(f"is not a regular file (a {_kind(st.st_mode)}) — advisor reads regular files only; exclude it")
        if max_size is not None and st.st_size > max_size:
            raise SourceError(_too_big(st.st_size, max_size))
        chunks: list[bytes] = []
        total, bound = 0, (max_size + 1 if max_size is not None else None)
        while True:
            chunk = os.read(fd, 1 << 20 if bound is None else min(1 << 20, bound - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if bound is not None and total >= bound:  # the file grew after fstat
                raise SourceError(_too_big(total, max_size or 0))
        return b"".join(chunks)
    except OSError as exc:
        raise SourceError(f"cannot read the file ({exc.strerror or exc}) — check that it is a regular file") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _too_big(size: int, limit: int) -> str:
    return (f"is {human_size(size)}, over the {human_size(limit)} max-file-size — skipped; exclude it "
            "or raise `max-file-size` in [tool.advisor] (or --max-file-size)")


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
    if not _ascii_compatible(encoding):
        raise SourceError(
            f"declares `coding: {encoding}`, which Python cannot read source code in — save the file as UTF-8 "
            "and remove the coding line"
        )
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


def _ascii_compatible(encoding: str) -> bool:
    """Python reads source only in codecs that keep plain ASCII lines as they are (not UTF-16/32)."""
    sample = "# -*- coding: x -*-\r\n\tx = 1\n"
    try:
        return encoding == "utf-8-sig" or sample.encode(encoding) == sample.encode("ascii")
    except (LookupError, UnicodeError):
        return True  # unknown codecs are reported when decoding


def read_source(path: Path) -> str:
    return decode(read_bytes(path))
