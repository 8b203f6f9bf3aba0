"""Export a Trace's packets as a pcap file that Wireshark and tcpdump open.

Every packet of the run, both directions, is written in time order as the IP packet it was on
the wire, under link type LINKTYPE_RAW (101: each record starts with an IPv4 or IPv6 header;
readers tell the two apart by the version nibble), so one file holds either IP mode. A record's
timestamp is ``trace.started_at`` plus the packet's ``time_us``, in whole microseconds.
A ``.pcapng`` path gets pcapng instead, each packet with a comment (line, mismatch, why).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from drillbook.trace.model import PacketRecord, Trace

LINKTYPE_RAW = 101  # pcap's LINKTYPE_RAW (the DLT_RAW of some platforms is 12 or 14)


def write_pcap(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write every ``PacketRecord`` of ``trace.packets`` with bytes in ``raw`` to ``path``.

    Records without ``raw`` bytes (e.g. an expected packet that never came) are skipped.
    scapy is imported here, not at module import, so that ``import drillbook`` stays light.
    A path ending in ``.pcapng`` gets pcapng with a comment per packet (pcapng.py).
    """
    if os.fspath(path).lower().endswith(".pcapng"):
        from drillbook.trace.pcapng import write_pcapng

        write_pcapng(trace, path)
        return
    from scapy.utils import RawPcapWriter

    start_us = round(trace.started_at * 1_000_000)
    writer = RawPcapWriter(os.fspath(path), linktype=LINKTYPE_RAW, sync=False)
    try:
        writer.write_header(None)
        for record in _on_the_wire(trace.packets):
            sec, usec = divmod(start_us + record.time_us, 1_000_000)
            writer.write_packet(record.raw, sec=sec, usec=usec)
    finally:
        writer.close()


def _on_the_wire(packets: tuple[PacketRecord, ...]) -> list[PacketRecord]:
    # Wireshark expects records in time order; a stable sort keeps equal times as recorded.
    return sorted((p for p in packets if p.raw), key=lambda p: p.time_us)
