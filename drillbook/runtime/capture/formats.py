"""Tracepoint ``format`` files, read at run time, and the decoding of one raw event with them.

Every event's binary layout (``field:__u64 sock_cookie; offset:112; size:8; signed:0;``) and
the symbolic names of its enum fields (``__print_symbolic(REC->reason, { 11,
"TCP_ABORT_ON_CLOSE" }, ...)``) come from the running kernel's own ``format`` file, so a field
that an older kernel lacks is simply absent (and reported) instead of misread.
"""

from __future__ import annotations

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
        return EventDecoder(self)


def parse_format(system: str, name: str, text: str) -> EventFormat:
    """An EventFormat from a ``format`` file's text (common_* fields left out)."""
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
        usable = [f for f in event_format.fields if f.struct_code is not None]
        self._names = tuple(f.name for f in usable)
        self._structs = tuple(struct.Struct("<" + str(f.struct_code)) for f in usable)
        self._offsets = tuple(f.offset for f in usable)
        self._end = max((f.offset + f.size for f in usable), default=0)
        self._symbols = {name: dict(pairs) for name, pairs in event_format.symbols}

    def decode(
        self, payload: bytes
    ) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str], ...]]:
        """(numeric fields, enum names) of one event; short payloads yield what fits."""
        values: list[tuple[str, int]] = []
        for name, layout, offset in zip(self._names, self._structs, self._offsets, strict=True):
            if offset + layout.size <= len(payload):
                values.append((name, int(layout.unpack_from(payload, offset)[0])))
        names: list[tuple[str, str]] = []
        for name, value in values:
            table = self._symbols.get(name)
            if table is not None and value in table:
                names.append((name, table[value]))
        return tuple(values), tuple(names)


def common_type(payload: bytes) -> int:
    """The event id every payload starts with (``common_type``, a u16)."""
    return int.from_bytes(payload[:2], "little") if len(payload) >= 2 else -1
