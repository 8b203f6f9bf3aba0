"""The ftrace ring buffer's binary page format, as ``per_cpu/cpuN/trace_pipe_raw`` hands it out.

Reading the raw pages instead of the text ``trace_pipe`` avoids its parsing traps (cookies in
hex without ``0x``, addresses printed as ``<INVALID-SIZE>``) and costs the kernel no
formatting. Layout (kernel/trace/ring_buffer.c; ``events/header_page`` and
``events/header_event`` describe it on the running kernel):

- a page: ``u64 timestamp`` (of its first event), ``local_t commit`` (bytes of data; bit 31
  set when events were lost before this page, bit 30 when their count is stored after the
  data), then the events;
- an event: a ``u32`` header, ``type_len`` in its low 5 bits and a ``time_delta`` in the high
  27 bits. ``type_len`` 1..28: data of ``4 * type_len`` bytes follows; 0: a ``u32`` length
  (counting itself) then the data; 29: padding (``u32`` length; an all-zero header ends the
  page); 30: a time extend (``delta + (u32 << 27)``); 31: an absolute time stamp.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

MISSED_EVENTS = 1 << 31
MISSED_STORED = 1 << 30
TYPE_PADDING = 29
TYPE_TIME_EXTEND = 30
TYPE_TIME_STAMP = 31
TS_SHIFT = 27
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class PageLayout:
    """Where a page's commit word and data sit (from ``events/header_page``)."""

    commit_offset: int = 8
    commit_size: int = 8
    data_offset: int = 16


def parse_header_page(text: str) -> PageLayout:
    """The layout described by ``events/header_page``; the x86-64 default where unreadable."""
    commit_offset, commit_size, data_offset = 8, 8, 16
    for line in text.splitlines():
        parts = dict(item.strip().split(":", 1) for item in line.split(";") if ":" in item)
        decl = parts.get("field", "")
        try:
            offset, size = int(parts.get("offset", "")), int(parts.get("size", ""))
        except ValueError:
            continue
        if decl.strip().endswith(" commit"):
            commit_offset, commit_size = offset, size
        elif decl.strip().endswith(" data"):
            data_offset = offset
    return PageLayout(commit_offset, commit_size, data_offset)


@dataclass(frozen=True)
class RawEvent:
    cpu: int
    timestamp_ns: int  # trace_clock's nanoseconds (CLOCK_MONOTONIC with trace_clock=mono)
    payload: bytes  # common_type, flags, preempt_count, pid, then the event's own fields


@dataclass(frozen=True)
class PageSummary:
    events: tuple[RawEvent, ...]
    missed: int  # events lost before this page (-1: some, count unknown)


def parse_page(page: bytes, cpu: int, layout: PageLayout = PageLayout()) -> PageSummary:
    """Every event of one raw page, with absolute timestamps."""
    spans, missed = page_spans(page, layout)
    return PageSummary(
        tuple(RawEvent(cpu, stamp, page[start : start + size]) for stamp, start, size in spans),
        missed,
    )


def page_spans(
    page: bytes, layout: PageLayout = PageLayout()
) -> tuple[list[tuple[int, int, int]], int]:
    """(timestamp, offset, size) of every event's payload in one raw page, and how many
    events were lost before it (-1: some, count unknown). No copies: the caller looks at the
    payloads it wants in place."""
    if len(page) < layout.data_offset:
        return [], 0
    timestamp = _U64.unpack_from(page, 0)[0]
    commit = int.from_bytes(
        page[layout.commit_offset : layout.commit_offset + layout.commit_size], "little"
    )
    length = commit & ~(MISSED_EVENTS | MISSED_STORED) & 0xFFFFFFFF
    end = min(layout.data_offset + length, len(page))
    missed = 0
    if commit & MISSED_EVENTS:
        missed = -1
        if commit & MISSED_STORED and end + 8 <= len(page):
            missed = int(_U64.unpack_from(page, end)[0])
    return list(_events(page, layout.data_offset, end, timestamp)), missed


def _events(page: bytes, position: int, end: int, timestamp: int) -> Iterator[tuple[int, int, int]]:
    while position + 4 <= end:
        header = _U32.unpack_from(page, position)[0]
        type_len = header & 0x1F
        delta = header >> 5
        if type_len == TYPE_PADDING:
            if delta == 0 and position + 8 <= end and _U32.unpack_from(page, position + 4)[0] == 0:
                return  # the rest of the page is empty
            size = _U32.unpack_from(page, position + 4)[0] if position + 8 <= end else 0
            timestamp += delta
            position += 4 + max(size, 4)
            continue
        if type_len in (TYPE_TIME_EXTEND, TYPE_TIME_STAMP):
            if position + 8 > end:
                return
            extend = (_U32.unpack_from(page, position + 4)[0] << TS_SHIFT) + delta
            if type_len == TYPE_TIME_EXTEND:
                timestamp += extend
            else:  # absolute: its low bits replace ours
                timestamp = (timestamp & ~((1 << 59) - 1)) | extend
            position += 8
            continue
        timestamp += delta
        if type_len == 0:
            if position + 8 > end:
                return
            size = _U32.unpack_from(page, position + 4)[0] - 4
            start = position + 8
            position = start + ((size + 3) & ~3)
        else:
            size = type_len * 4
            start = position + 4
            position = start + size
        if size <= 0 or start + size > end:
            return
        yield timestamp, start, size
