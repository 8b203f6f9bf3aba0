"""How long the wire codec takes on the runtime's hot path, next to scapy doing the same.

Run: ``.venv/bin/python benchmarks/bench_wire.py [--rounds N]``. The packet is a typical data
segment of a packetdrill run: IPv4, TCP ACK|PSH with nop,nop,TS options and a 1000-byte payload.
"Encode" builds the typed packet and encodes it (lengths and checksums filled), as the runtime
does for an inbound packet; "decode" turns the bytes of an outbound packet into typed values.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from drillbook import wire

PAYLOAD = b"x" * 1000


def build_and_encode() -> bytes:
    """Our codec: typed packet -> bytes."""
    packet = wire.Packet(
        wire.IPv4Header(src="192.0.2.1", dst="192.168.0.1"),
        wire.TcpSegment(
            sport=8080,
            dport=80,
            seq=1001,
            ack=2001,
            flags=wire.TCP_ACK | wire.TCP_PSH,
            window=257,
            options=(wire.nop(), wire.nop(), wire.timestamp(12345, 6789)),
            payload=PAYLOAD,
        ),
    )
    return wire.encode_packet(packet)


def scapy_build() -> Callable[[], bytes]:
    """scapy's equivalent: layers -> bytes (it computes lengths and checksums too)."""
    from scapy.layers.inet import IP, TCP

    def build() -> bytes:
        packet = (
            IP(src="192.0.2.1", dst="192.168.0.1")
            / TCP(
                sport=8080,
                dport=80,
                seq=1001,
                ack=2001,
                flags="PA",
                window=257,
                options=[("NOP", None), ("NOP", None), ("Timestamp", (12345, 6789))],
            )
            / PAYLOAD
        )
        return bytes(packet)

    return build


def time_us(func: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    """Median and 99th percentile wall time of ``rounds`` calls, and median CPU time, in us.

    CPU time (this thread's) is the steadier figure on a machine shared with other work: it
    leaves out the time the process waited for a CPU.
    """
    for _ in range(min(rounds, 200)):  # warm up
        func()
    wall, cpu = [], []
    clock, thread_clock = time.perf_counter_ns, time.thread_time_ns
    for _ in range(rounds):
        start, start_cpu = clock(), thread_clock()
        func()
        cpu.append((thread_clock() - start_cpu) / 1000)
        wall.append((clock() - start) / 1000)
    wall.sort()
    return statistics.median(wall), wall[int(len(wall) * 0.99) - 1], statistics.median(cpu)


def main() -> None:
    """Print median/p99 for our codec and scapy, and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20000)
    rounds = parser.parse_args().rounds

    from scapy.layers.inet import IP

    data = build_and_encode()
    results = {
        "encode (drillbook.wire)": time_us(build_and_encode, rounds),
        "decode (drillbook.wire)": time_us(lambda: wire.decode_packet(data), rounds),
        "build (scapy)": time_us(scapy_build(), max(rounds // 10, 100)),
        "dissect (scapy)": time_us(lambda: IP(data), max(rounds // 10, 100)),
    }
    print(f"TCP packet, {len(data)} bytes (1000-byte payload, nop,nop,TS)")
    for name, (median, p99, cpu) in results.items():
        print(
            f"  {name:26s} median {median:8.2f} us   p99 {p99:8.2f} us   cpu median {cpu:8.2f} us"
        )
    encode_ratio = results["build (scapy)"][0] / results["encode (drillbook.wire)"][0]
    decode_ratio = results["dissect (scapy)"][0] / results["decode (drillbook.wire)"][0]
    print(f"  scapy/ours: encode x{encode_ratio:.0f}, decode x{decode_ratio:.0f}")


if __name__ == "__main__":
    main()
