"""Row keys, columns and values as text, the way HBase shows them (Bytes.toStringBinary).

Letters, digits, the space and printable punctuation stay as they are; every other byte,
the backslash included, becomes "\\xHH" (upper-case hex). `parse_binary` is the inverse
(Bytes.toBytesBinary), so anything printed can be typed back. Used by the CLI, the web pages
and error messages (a message names row b"r\\x00" as 'r\\x00', not as a Python bytes repr).
"""

from __future__ import annotations

_PRINTABLE = frozenset(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    b" `~!@#$%^&*()-_=+[]{}|;:'\",.<>/?"
)
_ESCAPED = [chr(b) if b in _PRINTABLE else f"\\x{b:02X}" for b in range(256)]


def binary(data: bytes) -> str:
    """HBase's Bytes.toStringBinary (text passes through)."""
    if isinstance(data, str):
        return data
    return "".join([_ESCAPED[b] for b in data])


def quoted(data: bytes, limit: int = 200) -> str:
    """binary(data) in single quotes for a message, cut after `limit` characters."""
    text = binary(data)
    if len(text) > limit:
        text = text[:limit] + f"...({len(data)} bytes)"
    return f"'{text}'"


def parse_binary(text: str) -> bytes:
    """HBase's Bytes.toBytesBinary: "\\xHH" is one byte, everything else UTF-8 text."""
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 3 < n and text[i + 1] in "xX":
            pair = text[i + 2:i + 4]
            try:
                out.append(int(pair, 16))
                i += 4
                continue
            except ValueError:
                pass
        # surrogateescape: raw bytes given on a command line (not UTF-8) arrive as lone
        # surrogates (Python's os.fsdecode) and go back to those bytes
        out += ch.encode("utf-8", "surrogateescape")
        i += 1
    return bytes(out)
