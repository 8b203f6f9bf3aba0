"""What every explainer needs to look up in a trace: which step shows a packet, which line was
running at a time, the socket's TCP_INFO around a step, and the counter sample of a step."""

from __future__ import annotations

from bisect import bisect_right

from drillbook.trace.kernel import CounterSample, KernelEvent
from drillbook.trace.model import Direction, PacketRecord, Step, TcpInfoSnapshot, Trace

LEADS_TO_PACKET_US = 3000


class TraceView:
    """Read-only lookups over one trace."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.steps = trace.steps
        timed = [s for s in trace.steps if s.actual_us is not None]
        self._timed = sorted(timed, key=lambda s: (s.actual_us or 0, s.index))
        self._times = [s.actual_us or 0 for s in self._timed]
        # Steps that make something happen (an injection, a call, a command): an outbound
        # step's time is the kernel's packet, which the kernel's own state change may follow.
        self._actors = [
            s for s in self._timed if s.actual is None or s.actual.direction is Direction.INBOUND
        ]
        self._actor_times = [s.actual_us or 0 for s in self._actors]
        self._by_packet = {
            (s.actual.time_us, s.actual.live_seq, s.actual.flags): s
            for s in trace.steps
            if s.actual is not None and s.actual.direction is Direction.OUTBOUND
        }

    def step_of_packet(self, packet: PacketRecord) -> Step | None:
        """The `>` step that read this packet, else the step running when it was sent."""
        found = self._by_packet.get((packet.time_us, packet.live_seq, packet.flags))
        return found if found is not None else self.step_at(packet.time_us)

    def step_at(self, time_us: int) -> Step | None:
        """The last step that started at or before ``time_us`` (the first step before it)."""
        position = bisect_right(self._times, time_us)
        if position == 0:
            return self._timed[0] if self._timed else None
        return self._timed[position - 1]

    def cause_step_at(self, time_us: int) -> Step | None:
        """The last step that acted (inbound packet, call, command) at or before ``time_us``:
        the step a state change it made belongs to."""
        position = bisect_right(self._actor_times, time_us)
        if position == 0:
            return self._actors[0] if self._actors else None
        return self._actors[position - 1]

    def step_of_event(self, time_us: int) -> Step | None:
        """The step a kernel event belongs to: the step running when it happened, or the
        outbound step whose packet it led to (the kernel acts just before it sends)."""
        current = self.step_at(time_us)
        position = bisect_right(self._times, time_us)
        if position < len(self._timed):
            following = self._timed[position]
            if (
                following.actual is not None
                and following.actual.direction is Direction.OUTBOUND
                and (following.actual_us or 0) - time_us <= LEADS_TO_PACKET_US
            ):
                return following
        return current

    def after_script(self, time_us: int) -> bool:
        """Whether this happened after the script's last event (drillbook's own end-of-run
        RSTs and closing of leftover sockets, which no line of the script caused)."""
        end = self.trace.script_end_us
        return end > 0 and time_us > end

    def first_actor(self, first: int, last: int) -> Step:
        """The first step in ``first..last`` that acted (an injection, a call, a command),
        else the last of them."""
        window = self.steps[first : last + 1] or self.steps[-1:]
        for step in window:
            if step.actual is None or step.actual.direction is Direction.INBOUND:
                return step
        return window[-1]

    def info_before(self, step: Step) -> TcpInfoSnapshot | None:
        """The socket's TCP_INFO after the previous step that has one."""
        for previous in reversed(self.steps[: step.index]):
            if previous.tcp_info is not None:
                return previous.tcp_info
        return None

    def info_at(self, step: Step) -> TcpInfoSnapshot | None:
        """TCP_INFO after this step, or after the next step that has one."""
        for later in self.steps[step.index :]:
            if later.tcp_info is not None:
                return later.tcp_info
        return None

    def sample_of(self, step_index: int) -> CounterSample | None:
        return self.trace.counters_for_step(step_index)

    def events_between(self, names: set[str], start_us: int, end_us: int) -> list[KernelEvent]:
        return [
            e
            for e in self.trace.kernel_events
            if e.name in names and start_us <= e.time_us <= end_us
        ]


def tcpi(info: TcpInfoSnapshot | None, name: str) -> int | None:
    """One ``tcpi_*`` field of a snapshot (None without a snapshot)."""
    if info is None:
        return None
    for key, value in info.fields:
        if key == f"tcpi_{name}":
            return value
    return None


def source_port(packet: PacketRecord) -> int | None:
    """The TCP source port of a packet as on the wire (None without its bytes)."""
    raw = packet.raw
    if not raw:
        return None
    version = raw[0] >> 4
    offset = (raw[0] & 0x0F) * 4 if version == 4 else 40 if version == 6 else -1
    if offset < 0 or len(raw) < offset + 2:
        return None
    return int.from_bytes(raw[offset : offset + 2], "big")
