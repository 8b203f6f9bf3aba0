"""The ``drillbook`` command: dispatch to a subcommand, or act as the packetdrill binary.

``drillbook [flags] x.pkt`` (no subcommand) is ``drillbook run [flags] x.pkt``, so drillbook
can stand in for packetdrill in upstream's run_all.py or the kernel's ksft_runner.sh.
"""

from __future__ import annotations

import importlib
import os
import sys

from drillbook.commands import SUBCOMMANDS
from drillbook.errors import DrillbookError

EXIT_CODES = """exit status:
  0  every script passed (or, with --dry_run, parsed and checked)
  1  a script failed against the kernel
  2  a script or usage error (syntax, semantics, flags, unreadable file)
  3  a sandbox error (namespace or TUN could not be set up), an aborted run, or an
     internal error in drillbook"""


def usage() -> str:
    commands = "\n".join(f"  {name:<8}{text}" for name, text in SUBCOMMANDS.items())
    return (
        "usage: drillbook COMMAND [ARGS...]\n"
        "       drillbook [packetdrill flags] SCRIPT.pkt...   (same as 'drillbook run')\n\n"
        f"commands:\n{commands}\n\n"
        "'drillbook COMMAND --help' describes a command.\n\n"
        f"{EXIT_CODES}\n"
    )


def _dispatch(name: str, argv: list[str]) -> int:
    try:
        module = importlib.import_module(f"drillbook.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"drillbook.commands.{name}":
            raise
        print(
            f"drillbook: the '{name}' command is not available in this installation "
            f"(drillbook.commands.{name} is missing)",
            file=sys.stderr,
        )
        return 2
    code: int = module.main(argv)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args or args[0] in ("-h", "--help", "help"):
            (sys.stdout if args else sys.stderr).write(usage())
            return 0 if args else 2
        if args[0] in SUBCOMMANDS:
            return _dispatch(args[0], args[1:])
        if args[0].startswith("-") or args[0].endswith(".pkt"):
            return _dispatch("run", args)
        print(f"drillbook: unknown command '{args[0]}'\n", file=sys.stderr)
        sys.stderr.write(usage())
        return 2
    except DrillbookError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("drillbook: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in drillbook, never the user's mistake
        if "--debug" in args or os.environ.get("DRILLBOOK_DEBUG"):
            raise
        print(
            f"drillbook: internal error: {type(exc).__name__}: {exc}\n"
            "(this is a bug in drillbook; run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 3


__all__ = ["EXIT_CODES", "main", "usage"]
