"""Tracepoint ``format`` files, read at run time, and the decoding of one raw event with them.

Every event's binary layout (``field:__u64 sock_cookie; offset:112; size:8; signed:0;``) and
the symbolic names of its enum fields (``__print_symbolic(REC->reason, { 11,
"TCP_ABORT_ON_CLOSE" }, ...)``) come from the running kernel's own ``format`` file, so a field
that an older kernel lacks is simply absent (and reported) instead of misread.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass

# The events a run captures, and the fields each needs at least to be useful.
WANTED_EVENTS: tuple[tuple[str, str], ...] = (
    ("tcp", "tcp_probe"),
    ("tcp", "tcp_retransmit_skb"),
    ("tcp", "tcp_retransmit_synack"),
    ("tcp", "tcp_send_reset"),
    ("tcp", "tcp_receive_reset"),
    ("tcp", "tcp_cong_state_set"),
    ("tcp", "tcp_rcvbuf_grow"),
    ("tcp", "tcp_destroy_sock"),
    ("sock", "inet_sock_set_state"),
    ("sock", "inet_sk_error_report"),
)

_FIELD = re.compile(
    r"field:(?P<decl>[^;]+);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<signed>\d)"
)
_SYMBOLIC = re.compile(r"__print_symbolic\(REC->(?P<field>\w+),(?P<body>.*?)\)")
_PAIR = re.compile(r"\{\s*(-?\w+)\s*,\s*\"([^\"]*)\"\s*\}")
_INT_SIZES = {1: "B", 2: "H", 4: "I", 8: "Q"}


@dataclass(frozen=True)
class FieldFormat:
    name: str
    offset: int
    size: int
    signed: bool
    is_array: bool

    @property
    def struct_code(self) -> str | None:
        code = _INT_SIZES.get(self.size)
        if code is None or self.is_array:
            return None
        return code.lower() if self.signed else code


@dataclass(frozen=True)
class EventFormat:
    """One tracepoint's id, numeric fields and enum names, from its ``format`` file."""

    system: str
    name: str
    event_id: int
    fields: tuple[FieldFormat, ...]
    symbols: tuple[tuple[str, tuple[tuple[int, str], ...]], ...] = ()

    def has(self, field_name: str) -> bool:
        return any(f.name == field_name for f in self.fields)

    def decoder(self) -> EventDecoder:
        """This format's decoder, made once per process: every run's instance has the same
        formats, and making one costs more than decoding a run's events with it."""
        key = (self.system, self.name, self.event_id)
        found = _DECODERS.get(key)
        if found is None or (found.format is not self and found.format != self):
            found = _DECODERS[key] = EventDecoder(self)
        return found


@functools.lru_cache(maxsize=64)
def parse_format(system: str, name: str, text: str) -> EventFormat:
    """An EventFormat from a ``format`` file's text (common_* fields left out). The same text
    gives the same object: every run reads the same files, and its decoder is then found
    without comparing formats field by field."""
    event_id = 0
    fields: list[FieldFormat] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("ID:"):
            event_id = int(line[3:].strip())
            continue
        match = _FIELD.search(line)
        if match is None:
            continue
        decl = match["decl"].strip()
        is_array = decl.endswith("]")
        field_name = decl.split("[", 1)[0].split()[-1].lstrip("*")
        if field_name.startswith("common_"):
            continue
        fields.append(
            FieldFormat(
                field_name,
                int(match["offset"]),
                int(match["size"]),
                match["signed"] == "1",
                is_array,
            )
        )
    return EventFormat(system, name, event_id, tuple(fields), _symbols(text))


def _symbols(text: str) -> tuple[tuple[str, tuple[tuple[int, str], ...]], ...]:
    """Enum names from the print format: ``{ 11, "TCP_ABORT_ON_CLOSE" }`` pairs whose number
    the kernel has already resolved (a pair still naming a macro is left out)."""
    found: list[tuple[str, tuple[tuple[int, str], ...]]] = []
    for match in _SYMBOLIC.finditer(text):
        pairs = []
        for number, label in _PAIR.findall(match["body"]):
            try:
                pairs.append((int(number, 0), label))
            except ValueError:
                continue  # an unresolved macro name: no number to match
        if pairs:
            found.append((match["field"], tuple(pairs)))
    return tuple(found)


class EventDecoder:
    """Decodes one event's payload (the bytes after the ring buffer's event header)."""

    def __init__(self, event_format: EventFormat) -> None:
        self.format = event_format
        usable = sorted(
            (f for f in event_format.fields if f.struct_code is not None), key=lambda f: f.offset
        )
        self._names = tuple(f.name for f in usable)
        self._structs = tuple(struct.Struct("<" + str(f.struct_code)) for f in usable)
        self._offsets = tuple(f.offset for f in usable)
        self._end = max((f.offset + f.size for f in usable), default=0)
        self._symbols = {name: dict(pairs) for name, pairs in event_format.symbols}
        self._named = any(name in self._symbols for name in self._names)
        self._whole = _one_struct(usable)

    def decode(
        self, payload: bytes
    ) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str], ...]]:
        """(numeric fields, enum names) of one event; short payloads yield what fits."""
        if self._whole is not None and len(payload) >= self._end:
            values = tuple(zip(self._names, self._whole.unpack_from(payload), strict=True))
        else:
            values = tuple(
                (name, layout.unpack_from(payload, offset)[0])
                for name, layout, offset in zip(
                    self._names, self._structs, self._offsets, strict=True)
                if offset + layout.size <= len(payload)
            )
        if not self._named:
            return values, ()
        symbols = self._symbols
        names = tuple(
            (name, symbols[name][value])
            for name, value in values
            if name in symbols and value in symbols[name]
        )
        return values, names


def _one_struct(fields: list[FieldFormat]) -> struct.Struct | None:
    """One struct for all the fields (in offset order, padding between): a whole event is
    then decoded in one call. None when two fields overlap."""
    code, at = "<", 0
    for field in fields:
        if field.offset < at:
            return None
        code += f"{field.offset - at}x" if field.offset > at else ""
        code += str(field.struct_code)
        at = field.offset + field.size
    return struct.Struct(code)


_DECODERS: dict[tuple[str, str, int], EventDecoder] = {}


def common_type(payload: bytes) -> int:
    """The event id every payload starts with (``common_type``, a u16)."""
    return int.from_bytes(payload[:2], "little") if len(payload) >= 2 else -1
