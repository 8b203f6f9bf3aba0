"""What a failed ``%{ }%`` program wrote on stderr, told in the script's terms.

packetdrill runs every block in one temporary file and prints Python's traceback, which names
that file (``/tmp/code_xxx``, line 137): a student cannot find line 137 anywhere. Here the
traceback's frames in the program name the script and the script's own line instead, and the
first line (packetdrill's ``path:LINE: error in Python code``, LINE being the block's event
line, kept for conformance) gains the failing statement, its script line and the exception:

    x.pkt:10: error in Python code: line 12: assert tcpi_snd_cwnd == 999 raised AssertionError
    Traceback (most recent call last):
      File "x.pkt", line 12, in <module>
        assert tcpi_snd_cwnd == 999
    AssertionError
    x.pkt: error executing code: 'python3' returned non-zero status 1

Pure text in, text out: the program's lines map to script lines (:class:`LineMap`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

HEADLINE = ": error in Python code"


@dataclass(frozen=True)
class LineMap:
    """Where the program's lines came from: program line -> (script line, its text)."""

    lines: Mapping[int, tuple[int, str]]


def relocate(stderr: str, program: str, script_path: str, line_map: LineMap) -> str:
    """``stderr`` with the program's frames named by ``script_path`` and script lines, and the
    failing statement and exception added to the headline."""
    frame = re.compile(r'File "' + re.escape(program) + r'", line (\d+)')
    last: tuple[int, str] | None = None

    def to_script(match: re.Match[str]) -> str:
        nonlocal last
        where = line_map.lines.get(int(match.group(1)))
        if where is None:
            return f'File "{script_path}", in the code drillbook adds'
        last = where
        return f'File "{script_path}", line {where[0]}'

    text = frame.sub(to_script, stderr)
    if last is None:
        return text
    lines = text.splitlines()
    exception = _exception_line([line for line in lines
                                 if not line.startswith(f"{script_path}:")])
    for index, line in enumerate(lines):
        if line.startswith(f"{script_path}:") and line.endswith(HEADLINE):
            statement = f"line {last[0]}: {last[1].strip()}"
            lines[index] = f"{line}: {statement} raised {exception}" if exception else (
                f"{line}: {statement}")
            break
    return "\n".join(lines)


def _exception_line(lines: list[str]) -> str:
    """The traceback's last line: ``AssertionError: 10``, ``NameError: name 'x' ...``."""
    for line in reversed(lines):
        if line and not line.startswith((" ", "Traceback")):
            return line.strip()
    return ""


__all__ = ["HEADLINE", "LineMap", "relocate"]
