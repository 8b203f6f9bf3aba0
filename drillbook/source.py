"""Source text, spans and caret excerpts.

Every node of a parsed script carries a :class:`Span` so that any error, syntax or
semantic, at parse time or at run time, can point at the exact place in the user's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A region of a source text; lines and columns are 1-based, ``offset`` 0-based."""

    line: int
    column: int
    end_line: int
    end_column: int
    offset: int = 0
    end_offset: int = 0

    @staticmethod
    def point(line: int, column: int, offset: int = 0) -> Span:
        return Span(line, column, line, column + 1, offset, offset + 1)


NO_SPAN = Span(0, 0, 0, 0)


@dataclass(frozen=True)
class Source:
    """A script's text and the name it is reported under (a path, or ``cell``)."""

    path: str
    text: str = field(repr=False)

    @property
    def name(self) -> str:
        """The short name packetdrill prints: the path's last component."""
        return self.path.rsplit("/", 1)[-1]

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        if 1 <= line <= len(lines):
            return lines[line - 1]
        return ""

    def excerpt(self, span: Span, max_width: int = 160) -> str:
        """The source line of ``span`` and a caret line under the spanned columns.

        Very long lines (a 200 kB line is legal input) are cut to a window around the caret,
        so that the message stays readable in a terminal or a notebook.
        """
        if span.line <= 0:
            return ""
        text = self.line_text(span.line).replace("\t", " ")
        start = max(span.column - 1, 0)
        width = 1
        if span.end_line == span.line and span.end_column > span.column:
            width = span.end_column - span.column
        width = max(1, min(width, max_width // 2))
        prefix = ""
        if len(text) > max_width:
            left = max(0, start - max_width // 2)
            text = text[left : left + max_width]
            start -= left
            prefix = "..."
            text = prefix + text
            start += len(prefix)
        return f"{text}\n{' ' * start}{'^' * width}"
