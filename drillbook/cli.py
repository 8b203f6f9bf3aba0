"""The ``drillbook`` command: dispatch to a subcommand, or act as the packetdrill binary.

``drillbook [flags] x.pkt`` (no subcommand) is ``drillbook run [flags] x.pkt``, so drillbook
can stand in for packetdrill in upstream's run_all.py or the kernel's ksft_runner.sh.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from drillbook.commands import SUBCOMMANDS
from drillbook.errors import DrillbookError

EXIT_CODES = """exit status:
  0  every script passed (or, with --dry_run, parsed and checked)
  1  a script failed against the kernel
  2  a script or usage error (syntax, semantics, flags, unreadable file)
  3  a sandbox error (namespace or TUN could not be set up), an aborted run, or an
     internal error in drillbook
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM)"""

EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, a CI runner, ``kill``) arrived. It is a KeyboardInterrupt so that
    every path that stops cleanly on Ctrl-C stops the same way on SIGTERM: workers killed and
    reaped, the suite's report of what ran, and a normal interpreter exit, whose atexit hooks
    remove the process's tracefs instances (killed by the default action, a process leaves
    them to the next drillbook start's sweep)."""


@contextmanager
def _sigterm_as_terminated() -> Iterator[list[bool]]:
    """While the command runs, SIGTERM raises :class:`Terminated` in the main thread; yields a
    one-item list that says whether it came (a subcommand may catch the interrupt itself and
    return its own status). The previous handler comes back afterwards: ``main`` may be
    called in-process (tests, the pytest plugin)."""
    came = [False]

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        came[0] = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends us outright
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        yield came
        return
    try:
        yield came
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted() -> int:
    _forget_the_escaped_interrupt()
    print("drillbook: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def _caused_by_an_interrupt(exc: BaseException) -> bool:
    """Whether a Ctrl-C is behind ``exc``: one that lands in a class body's ``__set_name__``
    (a dataclass field, during an import) reaches us wrapped in a RuntimeError."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _forget_the_escaped_interrupt() -> None:
    """CPython marks a KeyboardInterrupt that leaves code run by ``exec`` of a string as
    unhandled, and at exit kills the process with SIGINT (status -2, not ours), even when the
    interrupt was caught further up. Dataclasses and named tuples build their methods that
    way, so a Ctrl-C during an import sets the mark. The mark is cleared by the next ``exec``
    of a string that completes."""
    exec("")  # noqa: S102 (a constant, empty source)


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
    with _sigterm_as_terminated() as terminated:
        code = _main(args)
    if terminated[0]:
        print("drillbook: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    return code


def _main(args: list[str]) -> int:
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
    except Terminated:
        _forget_the_escaped_interrupt()
        return EXIT_TERMINATED  # main() says so
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:  # a bug in drillbook, never the user's mistake
        if _caused_by_an_interrupt(exc):
            return _interrupted()
        if "--debug" in args or os.environ.get("DRILLBOOK_DEBUG"):
            raise
        print(
            f"drillbook: internal error: {type(exc).__name__}: {exc}\n"
            "(this is a bug in drillbook; run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 3


__all__ = ["EXIT_CODES", "main", "usage"]
