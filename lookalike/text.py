"""Names made safe to print: file names and identities come from users and file systems, and may hold anything.

A name is printed as one line of visible characters, so it can neither forge a row of a table nor send a terminal
escape sequence. The exact name is still available where it matters: JSON output keeps it, escaped the JSON way.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""Control characters (C0, DEL, C1), line and paragraph separators, bidirectional overrides (which can make a name
read backwards), and lone surrogates: Python's stand-ins for file-name bytes that are not valid UTF-8."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters, separators, bidirectional overrides and undecodable bytes written as
    backslash escapes (``\\n``, ``\\x1b``, ``\\xff``, ``\\u202e``); anything else, including non-ASCII letters, as
    it is."""
    return _UNSAFE.sub(_escape, text)


def has_unsafe_characters(text: str) -> bool:
    """Whether `printable` would change ``text``: names a user chooses (identities) must not need it."""
    return _UNSAFE.search(text) is not None
