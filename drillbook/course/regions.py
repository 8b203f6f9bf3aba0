"""nbgrader's solution regions in a cell, and what the teacher's and the student's cells run.

A teacher version of a lab keeps each worked answer between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` lines; ``nbgrader generate_assignment`` replaces every such region with
its code stub (an empty line in this course, see ``course/nbgrader_config.py``) to make the
student version. :func:`student_source` does the same, without nbgrader, for the lessons.

A prediction cell needs nothing more: Python runs the handed-out line and then the solution,
which overrides it::

    blocks_after_4 = None  # your prediction
    ### BEGIN SOLUTION
    blocks_after_4 = [(2001, 6001), (7001, 8001)]
    ### END SOLUTION

A ``%%drill`` edit exercise hands out a script with lines to fix, marked ``// EDIT ME``. In the
teacher version each such line is followed by its fix in a region; :func:`teacher_script` is
the script a teacher's cell runs: the ``EDIT ME`` lines right above a region are *replaced* by
the region's lines. The student's cell (region gone) runs the handed-out lines::

    +0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK>   // EDIT ME
    ### BEGIN SOLUTION
    +0  > S. 0:0(0) ack 1 <mss 1460>
    ### END SOLUTION

Where the lines to fix are not all marked (the student must find them), the BEGIN line says
how many lines right above it the region replaces; nbgrader removes that line with the region,
so the count never reaches the student::

    +.08 < . 1:1(0) ack 11 win 65535
    +0  > P. 11:31(20) ack 1      // EDIT ME: with TCP_NODELAY, what is sent, and when?
    ### BEGIN SOLUTION (replaces 2 lines above)
    ...

A region after no ``EDIT ME`` line adds lines (the student must write them); an empty region
deletes the lines it replaces. The teacher's script is padded with empty lines so that its line
numbers are those of the student's cell (the replaced lines, then the stub line): a check that
names a script line means the same line in both versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drillbook.errors import ScriptSyntaxError
from drillbook.source import Source, Span

__all__ = [
    "BEGIN_SOLUTION",
    "CODE_STUB",
    "EDIT_MARK",
    "END_SOLUTION",
    "Region",
    "has_solution_region",
    "solution_regions",
    "student_source",
    "teacher_script",
]

# nbgrader matches its delimiters anywhere in a line (ClearSolutions.begin_solution_delimeter).
BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"
EDIT_MARK = "EDIT ME"
_REPLACES = re.compile(r"replaces (\d+) lines? above")
CODE_STUB = ""
"""What nbgrader puts in place of a region here (``ClearSolutions.code_stub``): one empty line,
which neither Python nor a packetdrill script minds. nbgrader's default stub raises
NotImplementedError, which would stop *Run All* at the first exercise."""


@dataclass(frozen=True)
class Region:
    """One solution region: the 0-based indexes of its BEGIN and END lines, its body, and how
    many lines right above it it replaces when its BEGIN line says so."""

    begin: int
    end: int
    body: tuple[str, ...]
    replaces: int | None = None


def _error(text: str, index: int, message: str, path: str) -> ScriptSyntaxError:
    line = text.split("\n")[index]
    span = Span(index + 1, 1, index + 1, len(line) + 1)
    hint = f"a solution region is a '### {BEGIN_SOLUTION}' line, the answer, '### {END_SOLUTION}'"
    return ScriptSyntaxError(message, span, Source(path, text), hint)


def solution_regions(text: str, path: str = "cell") -> tuple[Region, ...]:
    """The solution regions of ``text``, in order; ScriptSyntaxError on an unbalanced one."""
    lines = text.split("\n")
    regions: list[Region] = []
    begin: int | None = None
    for index, line in enumerate(lines):
        if BEGIN_SOLUTION in line:
            if begin is not None:
                raise _error(text, index, "a solution region inside another one", path)
            begin = index
        elif END_SOLUTION in line:
            if begin is None:
                raise _error(text, index, f"'{END_SOLUTION}' without a '{BEGIN_SOLUTION}'", path)
            count = _REPLACES.search(lines[begin])
            replaces = int(count.group(1)) if count else None
            regions.append(Region(begin, index, tuple(lines[begin + 1 : index]), replaces))
            begin = None
    if begin is not None:
        raise _error(text, begin, f"'{BEGIN_SOLUTION}' without an '{END_SOLUTION}'", path)
    return tuple(regions)


def has_solution_region(text: str) -> bool:
    """Whether ``text`` has a solution region (a teacher's answer cell)."""
    return BEGIN_SOLUTION in text


def student_source(text: str, stub: str = CODE_STUB) -> str:
    """``text`` as nbgrader hands it out: each region replaced by ``stub``, indented like its
    BEGIN line (nbgrader's ClearSolutions)."""
    lines = text.split("\n")
    kept: list[str] = []
    start = 0
    for region in solution_regions(text):
        kept += lines[start : region.begin]
        begin_line = lines[region.begin]
        indent = begin_line[: len(begin_line) - len(begin_line.lstrip())]
        kept += [indent + stub_line for stub_line in stub.split("\n")]
        start = region.end + 1
    kept += lines[start:]
    return "\n".join(kept)


def teacher_script(text: str, path: str = "cell") -> str:
    """The script a teacher's ``%%drill`` cell runs: each region replaces the ``EDIT ME`` lines
    right above it (or as many lines as its BEGIN line says), padded so that line numbers match
    the student's cell. A text without a region comes back unchanged."""
    regions = solution_regions(text, path)
    if not regions:
        return text
    lines = text.split("\n")
    script: list[str] = []
    start = 0
    for region in regions:
        handed_out = lines[start : region.begin]
        if region.replaces is not None:
            if region.replaces > len(handed_out):
                raise _error(text, region.begin, f"there are only {len(handed_out)} lines above "
                             "this region for it to replace", path)
            replaced = region.replaces
        else:
            replaced = 0
            while replaced < len(handed_out) and EDIT_MARK in handed_out[-1 - replaced]:
                replaced += 1
        script += handed_out[: len(handed_out) - replaced]
        script += region.body
        student_lines = replaced + len(CODE_STUB.split("\n"))
        script += [""] * max(0, student_lines - len(region.body))
        start = region.end + 1
    script += lines[start:]
    return "\n".join(script)
