"""A cursor over packet bytes with symmetric pull/push operations (in the style of aioquic).

Each header module pairs a ``pull_x(buf) -> X`` with a ``push_x(buf, x)``. Pulling checks bounds
before ``struct`` sees the bytes, so truncation surfaces as a :class:`WireError` naming the
field that did not fit, never as ``struct.error``.
"""

from __future__ import annotations

import struct
from typing import Any

from drillbook.wire.errors import WireError


class Buffer:
    """Read from ``data`` with ``pull_*``; append with ``push_*``; ``data`` gives the result.

    A buffer made with bytes reads them from the start; one made empty is for writing.
    """

    __slots__ = ("_data", "_end", "_out", "_pos")

    def __init__(self, data: bytes = b"") -> None:
        self._data = data
        self._pos = 0
        self._end = len(data)
        self._out = bytearray()

    # -- reading ---------------------------------------------------------------------------

    def tell(self) -> int:
        """The read position, in bytes from the start."""
        return self._pos

    def remaining(self) -> int:
        """How many bytes are left to read before the (possibly limited) end."""
        return self._end - self._pos

    def limit(self, end: int) -> None:
        """Stop reading at ``end`` (e.g. the IP total length; the rest is link padding)."""
        self._end = min(end, len(self._data))

    def pull_struct(self, fmt: struct.Struct, what: str) -> tuple[Any, ...]:
        """Unpack ``fmt`` at the position and advance past it."""
        pos = self._pos
        if pos + fmt.size > self._end:
            raise WireError(f"truncated {what}: need {fmt.size} bytes, have {self._end - pos}")
        self._pos = pos + fmt.size
        return fmt.unpack_from(self._data, pos)

    def pull_bytes(self, length: int, what: str) -> bytes:
        """Take ``length`` bytes and advance past them."""
        pos = self._pos
        if length < 0 or pos + length > self._end:
            raise WireError(f"truncated {what}: need {length} bytes, have {self._end - pos}")
        self._pos = pos + length
        return self._data[pos : pos + length]

    def pull_rest(self) -> bytes:
        """Take every byte up to the end."""
        pos, self._pos = self._pos, self._end
        return self._data[pos : self._end]

    # -- writing ---------------------------------------------------------------------------

    @property
    def data(self) -> bytes:
        """Everything pushed so far."""
        return bytes(self._out)

    def size(self) -> int:
        """How many bytes have been pushed."""
        return len(self._out)

    def push_bytes(self, data: bytes) -> None:
        """Append encoded bytes (each ``push_x`` packs its header whole, then appends it)."""
        self._out += data
