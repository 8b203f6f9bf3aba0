"""drillbook's subcommands: each is a module ``drillbook.commands.<name>`` with
``main(argv: list[str]) -> int``, imported only when it is used."""

from __future__ import annotations

SUBCOMMANDS: dict[str, str] = {
    "run": "run packetdrill scripts against the kernel (or --dry_run: parse and check only)",
    "render": "draw a run's figures (sequence diagram, time-sequence plot) to a file",
    "suite": "run many scripts in parallel and compare verdicts with expected ones",
    "export": "export a lab notebook as an HTML lesson",
    "labs": "generate the student labs from the teacher versions (nbgrader)",
}

__all__ = ["SUBCOMMANDS"]
