"""Decoding struct tcp_info, TCP_CC_INFO and SO_MEMINFO buffers."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from drillbook.runtime.loop.code import CodeRecorder
from drillbook.runtime.syscalls import tcpinfo
from drillbook.runtime.syscalls.tcpinfo import (
    CC_INFO_SIZE,
    CODE_TCP_INFO_NAMES,
    TCP_INFO_SIZE,
    CodeRaw,
    decode_cc_info,
    decode_meminfo,
    decode_tcp_info,
)
from drillbook.script.model import CodeBlock


def _layout() -> dict[str, int]:
    return {name: offset for name, _, offset in tcpinfo._TCP_INFO_LAYOUT}


def test_size_is_linux_6_18() -> None:
    assert TCP_INFO_SIZE == 280


def test_decodes_each_field_at_its_offset() -> None:
    buffer = bytearray(TCP_INFO_SIZE)
    buffer[0] = 1  # tcpi_state
    buffer[5] = 0x23  # tcpi_options
    buffer[6] = 0x87  # snd_wscale 7, rcv_wscale 8
    buffer[7] = 0x5  # app_limited 1, fastopen_client_fail 2
    offsets = _layout()
    struct.pack_into("=I", buffer, offsets["tcpi_snd_mss"], 1448)
    struct.pack_into("=Q", buffer, offsets["tcpi_bytes_acked"], 2**40 + 5)
    struct.pack_into("=H", buffer, offsets["tcpi_total_rto_recoveries"], 9)
    struct.pack_into("=I", buffer, offsets["tcpi_received_ce_bytes"], 77)
    struct.pack_into("=I", buffer, offsets["_ecn_bits"], 2 | (3 << 2) | (5 << 4) | (0xABC << 8))
    info = decode_tcp_info(bytes(buffer))
    assert info["tcpi_state"] == 1 and info["tcpi_options"] == 0x23
    assert (info["tcpi_snd_wscale"], info["tcpi_rcv_wscale"]) == (7, 8)
    assert info["tcpi_delivery_rate_app_limited"] == 1
    assert info["tcpi_fastopen_client_fail"] == 2
    assert info["tcpi_snd_mss"] == 1448
    assert info["tcpi_bytes_acked"] == 2**40 + 5
    assert info["tcpi_total_rto_recoveries"] == 9
    assert info["tcpi_received_ce_bytes"] == 77
    assert (info["tcpi_ecn_mode"], info["tcpi_accecn_opt_seen"],
            info["tcpi_accecn_fail_mode"], info["tcpi_options2"]) == (2, 3, 5, 0xABC)
    assert set(CODE_TCP_INFO_NAMES) <= set(info)


def test_shorter_buffers_from_older_kernels_leave_fields_out() -> None:
    offsets = _layout()
    old = decode_tcp_info(bytes(offsets["tcpi_snd_wnd"]))  # a 5.x-era tcp_info
    assert "tcpi_rcv_ooopack" in old and "tcpi_snd_wnd" not in old
    assert decode_tcp_info(b"") == {}
    assert decode_tcp_info(bytes(8))["tcpi_delivery_rate_app_limited"] == 0


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_offsets_match_the_c_header(tmp_path: Path) -> None:
    # The system's linux/tcp.h may be older than 6.18; check every field it has.
    header = Path("/usr/include/linux/tcp.h").read_text()
    names = [n for n in _layout()
             if not n.startswith("_") and re.search(rf"\b{n}\s*;", header)]
    assert len(names) > 40
    body = "\n".join(f'printf("{n} %zu\\n", offsetof(struct tcp_info, {n}));' for n in names)
    source = tmp_path / "offsets.c"
    source.write_text("#include <stdio.h>\n#include <stddef.h>\n#include <linux/tcp.h>\n"
                      f"int main(void) {{\n{body}\nreturn 0;\n}}\n")
    binary = tmp_path / "offsets"
    subprocess.run(["gcc", "-o", str(binary), str(source)], check=True, capture_output=True)
    output = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    c_offsets = {n: int(o) for n, o in (line.split() for line in output.splitlines())}
    layout = _layout()
    assert {n: layout[n] for n in c_offsets} == c_offsets


def test_cc_info_reads_the_union_three_ways() -> None:
    bbr = struct.pack("=5I", 1000, 2, 3456, 739, 512)
    values = decode_cc_info(bbr)
    assert values["bbr_bw"] == (2 << 32) + 1000
    assert values["bbr_min_rtt"] == 3456 and values["bbr_cwnd_gain"] == 512
    assert values["dctcp_enabled"] == 1000 and values["tcpv_enabled"] == 1000
    assert (values["tcp_rtt"], values["tcp_minrtt"]) == (3456, 739)  # packetdrill's names
    assert decode_cc_info(b"") == {}  # cubic and reno have no get_info
    assert "bbr_bw" not in decode_cc_info(bytes(16))


def test_meminfo() -> None:
    values = decode_meminfo(struct.pack("=9I", *range(1, 10)))
    assert values["SK_MEMINFO_RMEM_ALLOC"] == 1 and values["SK_MEMINFO_DROPS"] == 9
    assert len(decode_meminfo(bytes(16))) == 4


def test_a_code_block_recorded_raw_writes_the_same_program_as_decoded() -> None:
    info = bytearray(TCP_INFO_SIZE)
    info[0] = 1  # tcpi_state ESTABLISHED
    struct.pack_into("=I", info, 80, 10)  # tcpi_snd_cwnd
    raw = CodeRaw(bytes(info), bytes(CC_INFO_SIZE), struct.pack("=9I", *range(9)))
    lazy, eager = CodeRecorder(), CodeRecorder()
    lazy.snapshot(CodeBlock("assert tcpi_snd_cwnd == 10"), 7, raw)
    eager.snapshot(CodeBlock("assert tcpi_snd_cwnd == 10"), 7, raw.values())
    assert lazy.source("x.pkt") == eager.source("x.pkt")
    assert "tcpi_snd_cwnd = 10\n" in lazy.source("x.pkt")
    assert len(lazy) == 1 and lazy.has_blocks
