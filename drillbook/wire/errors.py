"""The one error the wire codec raises: bytes that are not a well-formed packet."""

from __future__ import annotations

from drillbook.errors import DrillbookError


class WireError(DrillbookError, ValueError):
    """Truncated or malformed packet bytes, or a packet that cannot be encoded.

    Decoding never lets ``IndexError`` or ``struct.error`` escape: every way the bytes can be
    wrong becomes a ``WireError`` whose message says what was wrong and where.
    """
