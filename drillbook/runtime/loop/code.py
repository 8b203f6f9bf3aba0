"""``%{ python }%`` blocks: recorded during the run, executed once after it (reference §4.9).

packetdrill defers Python blocks (code.c). At each block's time it snapshots the socket under
test (TCP_INFO, TCP_CC_INFO, SO_MEMINFO) and appends ``name = value`` lines and the block's
text to a buffer. After the script ends (and after the cleanup command) it writes everything
into one file behind a preamble whose excepthook prints ``path:line: error in Python code``,
runs it once with ``--code_command`` (default ``python3``), and fails the run with
``path: error executing code: 'python3' returned non-zero status N`` if it exits non-zero.
So assertions see values from their own time, later blocks see earlier blocks' variables, and
``print`` output appears at the end.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from drillbook.runtime.loop.code_errors import HEADLINE, LineMap, relocate
from drillbook.runtime.syscalls.tcpinfo import CODE_CONSTANTS, CodeRaw
from drillbook.script.model import CodeBlock

# packetdrill's Python preamble, in behaviour: report the failing block's script line, then the
# traceback, on stderr.
PYTHON_PREAMBLE = """import sys
import traceback
def excepthook(etype, value, tb):
  sys.stderr.write("%s:%d: error in Python code\\n" %
                   (_file, _line))
  traceback.print_exception(etype, value, tb)

sys.excepthook = excepthook

"""


@dataclass(frozen=True)
class CodeSnapshot:
    """One block with the values it sees and the script line it came from."""

    block: CodeBlock
    line: int
    values: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class CodeResult:
    """How running the recorded blocks went.

    ``error`` is packetdrill's wording: Python's stderr (``path:line: error in Python code``
    and the traceback) followed by ``path: error executing code: ...``. ``output`` is what
    the blocks printed to stdout.
    """

    ok: bool
    error: str | None
    output: str
    first_error_line: int | None = None  # the script line of the failing block, if known


@dataclass
class CodeRecorder:
    """Collects ``%{ }%`` snapshots during a run and runs them at its end."""

    _recorded: list[tuple[CodeBlock, int, dict[str, int] | CodeRaw]] = field(
        default_factory=list
    )

    def snapshot(self, block: CodeBlock, line: int, values: dict[str, int] | CodeRaw) -> None:
        """Record ``block`` (at script ``line``) with the socket values read at its time:
        decoded, or raw reads that are decoded only when the program is written."""
        self._recorded.append((block, line, values))

    @property
    def snapshots(self) -> list[CodeSnapshot]:
        """The recorded blocks with their decoded values."""
        return [
            CodeSnapshot(block, line, tuple(
                (values.values() if isinstance(values, CodeRaw) else values).items()
            ))
            for block, line, values in self._recorded
        ]

    def __len__(self) -> int:
        return len(self._recorded)

    @property
    def has_blocks(self) -> bool:
        """Whether any block was recorded (packetdrill runs no Python otherwise)."""
        return bool(self._recorded)

    def source(self, path: str) -> str:
        """The Python program packetdrill would write for these snapshots."""
        return self.program(path)[0]

    def program(self, path: str) -> tuple[str, LineMap]:
        """The program, and which script line each of its blocks' lines comes from."""
        parts = [PYTHON_PREAMBLE, "\n"]
        lines: dict[int, tuple[int, str]] = {}
        for snap in self.snapshots:
            parts.extend(_assignments(CODE_CONSTANTS.items()))
            parts.extend(_assignments(snap.values))
            parts.append("\n")
            parts.append(f"_file = {path!r}\n_line = {snap.line}\n")
            first = "".join(parts).count("\n") + 1  # the program line the block starts on
            start = snap.block.span.line if snap.block.span.line > 0 else snap.line
            for offset, text in enumerate(snap.block.code.split("\n")):
                lines[first + offset] = (start + offset, text)
            parts.append(f"{snap.block.code}\n\n")
        return "".join(parts), LineMap(lines)

    def run(self, path: str, code_command: str = "python3",
            timeout_s: float = 60.0) -> CodeResult:
        """Write the program to a temporary directory, run it once, and remove it.

        ``path`` is the script path as packetdrill prints it in messages.
        """
        if not self._recorded:
            return CodeResult(True, None, "")  # packetdrill runs nothing without blocks
        text, line_map = self.program(path)
        with tempfile.TemporaryDirectory(prefix="drillbook-code-") as folder:
            program = os.path.join(folder, "code.py")
            with open(program, "w", encoding="utf-8") as out:
                out.write(text)
            result = _execute(path, code_command, program, timeout_s)
        if result.error is None:
            return result
        # The temporary file is gone: name the script's lines instead (code_errors.py).
        return replace(result, error=relocate(result.error, program, path, line_map))


def _assignments(values: Iterable[tuple[str, int]]) -> list[str]:
    # packetdrill prints every value with %llu: they are all unsigned.
    return [f"{name} = {value}\n" for name, value in values]


def _execute(path: str, code_command: str, program: str, timeout_s: float) -> CodeResult:
    # packetdrill runs "<code_command> <file>" through system(3), i.e. /bin/sh.
    command = f"{code_command} {shlex.quote(program)}"
    try:
        done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                              timeout=timeout_s, errors="replace")
    except subprocess.TimeoutExpired as expired:
        output = _text(expired.stdout)
        message = f"{path}: error executing code: '{code_command}' timed out after {timeout_s}s"
        return CodeResult(False, message, output)
    if done.returncode == 0:
        return CodeResult(True, None, done.stdout)
    if done.returncode < 0:
        status = f"got signal {-done.returncode}"
    else:
        status = f"returned non-zero status {done.returncode}"
    message = f"{path}: error executing code: '{code_command}' {status}"
    stderr = done.stderr.rstrip("\n")
    error = f"{stderr}\n{message}" if stderr else message
    return CodeResult(False, error, done.stdout, _failing_line(path, stderr))


def _failing_line(path: str, stderr: str) -> int | None:
    for line in stderr.splitlines():
        if line.startswith(f"{path}:") and line.endswith(HEADLINE):
            number = line[len(path) + 1:-len(HEADLINE)]
            if number.isdigit():
                return int(number)
    return None


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


__all__ = ["PYTHON_PREAMBLE", "CodeRecorder", "CodeResult", "CodeSnapshot"]


def code_error(text: str) -> tuple[int, str, tuple[str, ...]]:
    """Split the code runner's error into (line, first message, the rest)."""
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "error in Python code"
    line_no = 0
    parts = first.split(":", 2)
    if len(parts) == 3 and parts[1].strip().isdigit():
        line_no = int(parts[1])
        first = parts[2].strip()
    return line_no, first, tuple(lines[1:])
