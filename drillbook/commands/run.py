"""``drillbook run [packetdrill flags] SCRIPT...``: packetdrill's own command line.

Scripts run one after another and the first failure stops the command, as packetdrill does.
``--dry_run`` parses and checks without touching the kernel.
"""

from __future__ import annotations

import sys
from pathlib import Path

from drillbook.config import RunConfig
from drillbook.errors import UsageError
from drillbook.options import ArgvFlags, parse_argv
from drillbook.parser import parse_with_flags
from drillbook.script.checks import check_script
from drillbook.script.model import Script

HELP = """usage: drillbook run [packetdrill flags] SCRIPT.pkt...

Run packetdrill scripts against the running kernel, each in a fresh network namespace.
Flags are packetdrill's (config.c), as --flag=value or --flag value, e.g.:
  --ip_version=ipv4|ipv4-mapped-ipv6|ipv6   --local_ip=A  --remote_ip=A[/len]  --gateway_ip=A
  --netmask_ip=M  --bind_port=N  --connect_port=N  --mtu=N  --speed=N  --mss=N
  --tolerance_usecs=N  --tolerance_percent=P  --tcp_ts_ecr_scaled  --tcp_ts_tick_usecs=N
  --strict_segments  --non_fatal=packet[,syscall]  --init_scripts=CMD[,CMD]
  --code_command=CMD  --code_format=FMT  --code_sockopt=OPT  -D NAME=VALUE (--define)
  --dry_run  -v (--verbose)  --debug  --send_omit_free  --is_anyip  --psp_udp_port=N
  --wire_client  --wire_server  --wire_server_ip=H  --so_filename=F  --so_flags=S
A script's own --flag lines apply first; the command line overrides them.
--dry_run parses and checks the scripts (syntax, packetdrill's semantic checks, unknown
symbols) without running them.

exit status:
  0  every script passed (or, with --dry_run, parsed and checked)
  1  a script failed against the kernel
  2  a script or usage error (syntax, semantics, flags, unreadable file)
  3  a sandbox error (namespace or TUN could not be set up) or an aborted run
"""


def read_script(path: str) -> str:
    """The script's text; an unreadable path is a usage error (exit 2), never a traceback.

    Bytes that are not UTF-8 become U+FFFD: harmless in comments, a syntax error elsewhere.
    """
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise UsageError(f"{path}: cannot read script: it is a directory") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read script: {exc.strerror or exc}") from None
    return data.decode("utf-8", errors="replace")


def load(path: str, flags: ArgvFlags) -> tuple[Script, RunConfig]:
    """Parse ``path`` with packetdrill's order: header lines, command line, then the body."""
    return parse_with_flags(read_script(path), path, flags)


def run_one(path: str, flags: ArgvFlags) -> int:
    """Dry-run or run one script; returns its exit status."""
    script, config = load(path, flags)
    if config.dry_run:
        check_script(script)
        return 0
    from drillbook.runtime.api import run_script

    trace = run_script(script, config)
    if config.verbose and trace.output:
        sys.stdout.write(trace.output if trace.output.endswith("\n") else trace.output + "\n")
    if trace.passed:
        return 0
    assert trace.failure is not None
    print(trace.failure.render(name=path), file=sys.stderr)  # as packetdrill: the path typed
    return 1


def main(argv: list[str]) -> int:
    """``drillbook run``: returns the exit status (errors are raised to drillbook.cli)."""
    flags = parse_argv(argv)
    if flags.help:
        sys.stdout.write(HELP)
        return 0
    if not flags.scripts:
        raise UsageError("drillbook run: no script given (see drillbook run --help)")
    for path in flags.scripts:
        status = run_one(path, flags)
        if status:
            return status
    return 0


__all__ = ["HELP", "load", "main", "read_script", "run_one"]
