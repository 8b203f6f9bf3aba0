"""pcap export: IPv4 and IPv6 packets of a trace, read back by scapy (and tshark if present)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.utils import PcapReader, rdpcap

from drillbook import wire
from drillbook.trace import Direction, PacketRecord, Trace
from drillbook.trace.pcap import LINKTYPE_RAW, write_pcap

STARTED_AT = 1764000000.25


def record(direction: Direction, time_us: int, packet: wire.Packet) -> PacketRecord:
    raw = wire.encode_packet(packet)
    return PacketRecord(direction=direction, time_us=time_us, protocol="tcp", summary="", raw=raw)


def v4(flags: int, payload: bytes = b"") -> wire.Packet:
    ip = wire.IPv4Header("192.0.2.1", "192.168.0.1")
    tcp = wire.TcpSegment(40000, 8080, seq=1, flags=flags, window=1000, payload=payload)
    return wire.Packet(ip, tcp)


def v6(flags: int) -> wire.Packet:
    ip = wire.IPv6Header("fd3d:fa7b:d17d::1", "fd3d:fa7b:d17d::36")
    tcp = wire.TcpSegment(8080, 40000, seq=7, ack=2, flags=flags, options=(wire.mss(1440),))
    return wire.Packet(ip, tcp)


def make_trace() -> Trace:
    packets = (
        record(Direction.INBOUND, 0, v4(wire.TCP_SYN)),
        record(Direction.OUTBOUND, 1_500, v6(wire.TCP_SYN | wire.TCP_ACK)),
        PacketRecord(Direction.OUTBOUND, 2_000, "tcp", "expected but never seen"),
        record(Direction.INBOUND, 2_000_001, v4(wire.TCP_ACK | wire.TCP_PSH, b"hello")),
    )
    return Trace("x.pkt", "", "ipv4", (), packets, started_at=STARTED_AT)


def test_scapy_reads_back_packets_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "run.pcap"
    trace = make_trace()
    write_pcap(trace, path)
    packets = rdpcap(str(path))
    assert len(packets) == 3  # the record without bytes is skipped
    wanted = [p for p in trace.packets if p.raw]
    for got, want in zip(packets, wanted, strict=True):
        assert bytes(got) == want.raw
        assert float(got.time) == pytest.approx(STARTED_AT + want.time_us / 1e6, abs=1e-6)
    assert IP in packets[0] and packets[0][TCP].flags == "S"
    assert IPv6 in packets[1] and packets[1][TCP].flags == "SA"
    assert bytes(packets[2][TCP].payload) == b"hello"
    with PcapReader(str(path)) as reader:
        assert reader.linktype == LINKTYPE_RAW


def test_timestamps_are_exact_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "run.pcap"
    write_pcap(make_trace(), path)
    data = path.read_bytes()
    # Record headers after the 24-byte file header: ts_sec, ts_usec, caplen, len (native order).
    seconds = int.from_bytes(data[24:28], "little")
    micros = int.from_bytes(data[28:32], "little")
    assert (seconds, micros) == (1764000000, 250000)


def test_packets_are_written_in_time_order(tmp_path: Path) -> None:
    trace = make_trace()
    shuffled = Trace("x.pkt", "", "ipv4", (), tuple(reversed(trace.packets)), started_at=0.0)
    path = tmp_path / "run.pcap"
    write_pcap(shuffled, str(path))
    times = [float(p.time) for p in rdpcap(str(path))]
    assert times == sorted(times) and len(times) == 3


def test_empty_trace_gives_a_valid_empty_capture(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcap"
    write_pcap(Trace("x.pkt", "", "ipv4", (), ()), path)
    assert len(rdpcap(str(path))) == 0


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "run.pcap"
    write_pcap(make_trace(), path)
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "ip.version", "-e", "ipv6.src"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    assert len(out) == 3
    assert out[1].endswith("fd3d:fa7b:d17d::1")
