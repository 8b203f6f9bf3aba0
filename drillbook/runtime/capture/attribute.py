"""Which captured kernel events belong to this run: decisions only, no I/O.

Tracepoints are global: every run on the machine, in every namespace, shows up in every
instance, with the same addresses and ports when runs are parallel, and timer-driven events
run in pid 0's context. So an event is attributed to one of the run's sockets

1. by its ``sock_cookie`` where it has one (``getsockopt(SO_COOKIE)`` in the worker gave the
   run's cookies);
2. otherwise by its ``skaddr`` (the kernel's socket address) inside that socket's lifetime:
   from its birth state change (``inet_sock_set_state`` out of CLOSE, or into SYN_RECV for a
   child) to its ``tcp_destroy_sock``. Socket addresses are reused within milliseconds, but
   never by two sockets alive at once;
3. ``inet_sk_error_report``, which names neither, belongs to the socket whose attributed event
   came just before it on the same CPU, in the same ring-buffer page (the kernel reports the
   error in the same call that closed or reset the socket; one at the very start of a page is
   lost).

Never by address, port or pid.
"""

from __future__ import annotations

from dataclasses import dataclass

from drillbook.runtime.capture.formats import EventDecoder, EventFormat
from drillbook.runtime.capture.ringbuffer import PageLayout, page_spans
from drillbook.trace.kernel import KernelEvent

TCP_CLOSE = 7
TCP_SYN_RECV = 3
FOLLOW_US = 200  # how close an error report must follow its socket's event on the same CPU


@dataclass
class _Decoded:
    name: str
    timestamp_ns: int
    cpu: int
    sequence: tuple[int, int]  # (page number, place in the page): foreign events count too
    fields: tuple[tuple[str, int], ...]
    symbols: tuple[tuple[str, str], ...]

    def get(self, name: str) -> int | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None


@dataclass
class _Lifetime:
    cookie: int
    skaddr: int
    start_ns: int
    end_ns: int


def decode_pages(
    pages: list[tuple[int, bytes]],
    layout: PageLayout,
    formats: list[EventFormat],
    cookies: set[int],
) -> list[_Decoded]:
    """The events worth a look, in time order: those with one of our cookies, and those that
    carry no cookie (attributed by lifetime below).

    Most captured events are the host's own traffic. A page is walked only if it holds the
    bytes of one of our cookies, or of a kernel socket address one of our cookies had (found
    in the first pass): a ``bytes`` search, not a Python loop over its events. In a walked
    page, an event with another socket's cookie, or with no cookie and another kernel socket
    address, is skipped after reading its id and 8 bytes of it."""
    # EventFormat.decoder() makes each once per process (when the spare instance is prepared).
    decoders = {f.event_id: f.decoder() for f in formats}
    offsets = {f.event_id: (_offset(f, "sock_cookie"), _offset(f, "skaddr")) for f in formats}
    needles = [cookie.to_bytes(8, "little") for cookie in cookies]
    pages = [(cpu, _content(page, layout)) for cpu, page in pages]
    skaddrs = _our_skaddrs(_holding(pages, needles), layout, offsets, cookies)
    more = [skaddr.to_bytes(8, "little") for skaddr in sorted(skaddrs)]
    decoded = _walk(_holding(pages, needles + more), layout, decoders, offsets, cookies,
                    skaddrs)
    decoded.sort(key=lambda d: d.timestamp_ns)
    return decoded


def _content(page: bytes, layout: PageLayout) -> bytes:
    """The page up to the end of its events (a page read early is mostly empty)."""
    commit = int.from_bytes(
        page[layout.commit_offset : layout.commit_offset + layout.commit_size], "little"
    )
    return page[: layout.data_offset + (commit & 0x3FFFFFFF) + 8]


def _holding(
    pages: list[tuple[int, bytes]], needles: list[bytes]
) -> list[tuple[int, int, bytes]]:
    """(cpu, page number, page) of the pages that contain any of ``needles`` (a plain loop of
    ``in``: faster than a generator in ``any()`` or one regular expression of them all)."""
    found = []
    for number, (cpu, page) in enumerate(pages):
        for needle in needles:
            if needle in page:
                found.append((cpu, number, page))
                break
    return found


def _our_skaddrs(
    pages: list[tuple[int, int, bytes]],
    layout: PageLayout,
    offsets: dict[int, tuple[int | None, int | None]],
    cookies: set[int],
) -> set[int]:
    """The kernel socket addresses that events with one of our ``cookies`` name (only those
    two fields are read: the events themselves are decoded in the second pass)."""
    found: set[int] = set()
    for _, _, page in pages:
        spans, _ = page_spans(page, layout)
        for _, start, _ in spans:
            cookie_at, skaddr_at = offsets.get(
                int.from_bytes(page[start : start + 2], "little"), (None, None))
            if cookie_at is None or skaddr_at is None:
                continue
            cookie = int.from_bytes(page[start + cookie_at : start + cookie_at + 8], "little")
            if cookie in cookies:
                skaddr = int.from_bytes(page[start + skaddr_at : start + skaddr_at + 8], "little")
                if skaddr:
                    found.add(skaddr)
    return found


def _walk(
    pages: list[tuple[int, int, bytes]],
    layout: PageLayout,
    decoders: dict[int, EventDecoder],
    offsets: dict[int, tuple[int | None, int | None]],
    cookies: set[int],
    skaddrs: set[int],
) -> list[_Decoded]:
    """Decode the events of ``pages`` that may be ours: with one of our ``cookies``; without
    a cookie, with one of ``skaddrs``; with neither field, all."""
    decoded: list[_Decoded] = []
    for cpu, number, page in pages:
        spans, _ = page_spans(page, layout)
        for place, (stamp, start, size) in enumerate(spans):
            event_id = int.from_bytes(page[start : start + 2], "little")
            decoder = decoders.get(event_id)
            if decoder is None:
                continue
            cookie_at, skaddr_at = offsets[event_id]
            if cookie_at is not None:
                cookie = int.from_bytes(page[start + cookie_at : start + cookie_at + 8], "little")
                if cookie not in cookies:
                    continue
            elif skaddr_at is not None:
                skaddr = int.from_bytes(page[start + skaddr_at : start + skaddr_at + 8], "little")
                if skaddr not in skaddrs:
                    continue
            fields, symbols = decoder.decode(page[start : start + size])
            decoded.append(
                _Decoded(decoder.format.name, stamp, cpu, (number, place), fields, symbols)
            )
    return decoded


def _offset(event_format: EventFormat, name: str) -> int | None:
    """Where a u64 field sits in the event's payload (None: the event has no such field)."""
    for field in event_format.fields:
        if field.name == name and field.size == 8:
            return field.offset
    return None


def attribute(
    pages: list[tuple[int, bytes]],
    layout: PageLayout,
    formats: list[EventFormat],
    cookies: set[int],
    started_monotonic_ns: int,
) -> tuple[KernelEvent, ...]:
    """The run's own events, in time order, with script times."""
    decoded = decode_pages(pages, layout, formats, cookies)
    lifetimes = _lifetimes(decoded, cookies)
    owners: list[int] = []
    for event in decoded:
        cookie = event.get("sock_cookie")
        if cookie is None:
            skaddr = event.get("skaddr")
            cookie = _owner(lifetimes.get(skaddr, []), event.timestamp_ns) if skaddr else 0
        owners.append(cookie if cookie in cookies else 0)
    _attach_error_reports(decoded, owners)
    result = []
    for event, owner in zip(decoded, owners, strict=True):
        if owner:
            fields = tuple((k, v) for k, v in event.fields if k not in _NOISE)
            result.append(
                KernelEvent(
                    name=event.name,
                    time_us=(event.timestamp_ns - started_monotonic_ns) // 1000,
                    cpu=event.cpu,
                    cookie=owner,
                    fields=fields,
                    symbols=event.symbols,
                )
            )
    return tuple(result)


_NOISE = {"skbaddr", "skaddr", "req", "sock_cookie", "mark"}


def _lifetimes(decoded: list[_Decoded], cookies: set[int]) -> dict[int, list[_Lifetime]]:
    """For each socket address of one of our sockets: the intervals it was ours."""
    # Which addresses our cookies had, and when each pair was seen first and last.
    seen: dict[tuple[int, int], list[int]] = {}
    for event in decoded:
        cookie, skaddr = event.get("sock_cookie"), event.get("skaddr")
        if cookie in cookies and skaddr:
            assert cookie is not None
            span = seen.setdefault((cookie, skaddr), [event.timestamp_ns, event.timestamp_ns])
            span[1] = event.timestamp_ns
            if event.name == "tcp_destroy_sock":
                span[1] = event.timestamp_ns
    births: dict[int, list[int]] = {}
    for event in decoded:
        if event.name != "inet_sock_set_state":
            continue
        skaddr = event.get("skaddr")
        if skaddr and (event.get("oldstate") == TCP_CLOSE or event.get("newstate") == TCP_SYN_RECV):
            births.setdefault(skaddr, []).append(event.timestamp_ns)
    lifetimes: dict[int, list[_Lifetime]] = {}
    for (cookie, skaddr), (first, last) in seen.items():
        earlier = [t for t in births.get(skaddr, []) if t <= first]
        start = max(earlier) if earlier else first
        later_births = [t for t in births.get(skaddr, []) if t > last]
        end = _destroy_time(decoded, cookie, last)
        if later_births:
            end = min(end, min(later_births) - 1)
        lifetimes.setdefault(skaddr, []).append(_Lifetime(cookie, skaddr, start, end))
    return lifetimes


def _destroy_time(decoded: list[_Decoded], cookie: int, last: int) -> int:
    for event in decoded:
        if event.name == "tcp_destroy_sock" and event.get("sock_cookie") == cookie:
            return event.timestamp_ns
    return 1 << 62  # still alive when the capture ended


def _owner(lifetimes: list[_Lifetime], timestamp_ns: int) -> int:
    for life in lifetimes:
        if life.start_ns <= timestamp_ns <= life.end_ns:
            return life.cookie
    return 0


def _attach_error_reports(decoded: list[_Decoded], owners: list[int]) -> None:
    """An error report right after one of our socket's events on the same CPU, with no other
    event in between (foreign ones included), is that socket's."""
    by_place = {d.sequence: index for index, d in enumerate(decoded)}
    for index, event in enumerate(decoded):
        if event.name == "inet_sk_error_report" and not owners[index]:
            page, place = event.sequence
            previous = by_place.get((page, place - 1))
            if (
                previous is not None
                and owners[previous]
                and event.timestamp_ns - decoded[previous].timestamp_ns <= FOLLOW_US * 1000
            ):
                owners[index] = owners[previous]
