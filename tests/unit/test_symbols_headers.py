"""The symbol values equal the C headers' on this machine (compiled with gcc)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from drillbook.script.symbols import SYMBOLS

HEADERS = (
    "errno.h", "sys/socket.h", "netinet/in.h", "netinet/tcp.h", "fcntl.h", "poll.h",
    "sys/epoll.h", "sys/ioctl.h", "linux/sockios.h", "linux/capability.h", "linux/errqueue.h",
    "linux/net_tstamp.h", "unistd.h", "stdio.h",
)


def _program() -> str:
    # Enum members (TCP_NLA_*, SOF_*, TCP_CA_*) are not macros: #ifdef skips them and prints "?".
    checks = "\n".join(
        f'#ifdef {name}\nprintf("{name} %lld\\n", (long long)({name}));\n#endif'
        for name in SYMBOLS
        if name != "NULL"
    )
    includes = "".join(f"#include <{header}>\n" for header in HEADERS)
    return f"#define _GNU_SOURCE\n{includes}int main(void) {{\n{checks}\nreturn 0;\n}}\n"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_values_match_c_headers(tmp_path: Path) -> None:
    source = tmp_path / "symbols.c"
    source.write_text(_program())
    binary = tmp_path / "symbols"
    subprocess.run(["gcc", "-o", str(binary), str(source)], check=True, capture_output=True)
    output = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    values = {name: int(value) for name, value in (line.split() for line in output.splitlines())}
    assert len(values) > 350  # most of the table is macros the headers define
    wrong = {name: (SYMBOLS[name], value) for name, value in values.items()
             if SYMBOLS[name] != value}
    assert not wrong


def test_enum_values_from_uapi() -> None:
    # linux/tcp.h and linux/net_tstamp.h enums, which the compiled check cannot see.
    assert SYMBOLS["TCP_NLA_BUSY"] == 1
    assert SYMBOLS["TCP_NLA_SRTT"] == 22
    assert SYMBOLS["SOF_TIMESTAMPING_TX_SOFTWARE"] == 1 << 1
    assert SYMBOLS["SOF_TIMESTAMPING_OPT_STATS"] == 1 << 12
    assert SYMBOLS["SOF_TIMESTAMPING_OPT_ID_TCP"] == 1 << 16
    assert SYMBOLS["SCM_TSTAMP_ACK"] == 2
    assert SYMBOLS["TCP_CA_RECOVERY"] == 3
