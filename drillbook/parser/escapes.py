"""C string literal escapes, as packetdrill decodes string arguments."""

from __future__ import annotations

_SIMPLE = {
    "n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "\\": 92, '"': 34, "'": 39,
    "?": 63, "e": 27,
}
_HEX = "0123456789abcdefABCDEF"


def decode_c_string(text: str) -> bytes:
    """Decode ``\\n \\t \\r \\v \\f \\\\ \\" \\xHH`` and octal ``\\NNN`` (UTF-8 elsewhere)."""
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\" or i + 1 >= len(text):
            out += char.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x":
            j = i + 2
            while j < len(text) and j < i + 4 and text[j] in _HEX:
                j += 1
            if j > i + 2:
                out.append(int(text[i + 2 : j], 16))
                i = j
                continue
        elif nxt in "01234567":
            j = i + 1
            while j < len(text) and j < i + 4 and text[j] in "01234567":
                j += 1
            out.append(int(text[i + 1 : j], 8) & 0xFF)
            i = j
            continue
        elif nxt in _SIMPLE:
            out.append(_SIMPLE[nxt])
            i += 2
            continue
        out += nxt.encode("utf-8", "surrogateescape")  # unknown escape: the char itself
        i += 2
    return bytes(out)
