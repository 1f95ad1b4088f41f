"""File names and messages shown safely: control and bidirectional characters escaped.

A file name is chosen by whoever made the file. On Linux it may hold a newline
(which splits a one-line failure in two), an ESC (which starts a terminal
escape sequence) or U+202E RIGHT-TO-LEFT OVERRIDE (which makes the text after
it read backwards: «Trojan Source»). Everywhere a name is shown to a person —
the terminal, the report, ``summary.json``'s ``display_name`` — it goes through
:func:`display_name`; the real path stays in machine-readable fields.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

# Control, format (bidirectional marks and overrides, zero-width characters), lone surrogates (a name that is
# not UTF-8), line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe_text(text: str, keep_newlines: bool = False) -> str:
    """``text`` with control, bidirectional and other invisible format characters written as escapes.

    Args:
        text: any text that may hold part of a file name.
        keep_newlines: leave ``\\n`` as it is (a message of several lines); tabs and the rest are escaped.

    Returns:
        The text, unchanged when it holds nothing unsafe; ``\\n``, ``\\x1b``, ``\\u202e`` otherwise.
    """
    if text.isprintable():
        return text
    return "".join(
        char
        if (keep_newlines and char == "\n") or unicodedata.category(char) not in _UNSAFE_CATEGORIES
        else _escape(char)
        for char in text
    )


def display_name(path: str | os.PathLike[str]) -> str:
    """How a path is shown to a person: as given, with unsafe characters escaped (see :func:`safe_text`)."""
    return safe_text(os.fspath(path))


def not_a_file(path: Path) -> str:
    """Why ``path``, given as an input, is neither a file nor a folder: missing, or what it is instead.

    A named pipe, socket or device is named for what it is and never opened (reading a
    named pipe waits for a writer forever).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return "a symbolic link to something that does not exist; check the link"
        return "not found; check the path and the current folder"
    except OSError as exc:  # permission denied on a folder above it, a symlink loop, a name too long
        return f"cannot be looked at ({exc.strerror or type(exc).__name__}); check the path and its permissions"
    for test, what in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return f"is {what}, not a file; give the path of a plan or sentence table (or a folder of them)"
    return "is neither a file nor a folder; give the path of a plan or sentence table (or a folder of them)"
