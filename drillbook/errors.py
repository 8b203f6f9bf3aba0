"""The error tree. Errors are split by whose fault they are (the user's script, the machine,
the run), and each renders as a message a person can act on, never as a Python traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drillbook.source import NO_SPAN, Source, Span

if TYPE_CHECKING:  # pragma: no cover
    pass


class DrillbookError(Exception):
    """Base of every error drillbook raises on purpose."""

    exit_code = 1

    def render(self) -> str:
        return str(self)

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: the user sees the message only.
        return self.render().splitlines()


class ScriptError(DrillbookError):
    """A mistake in a script: it points at a span of the source and may carry a hint."""

    exit_code = 2
    kind = "error"

    def __init__(
        self,
        message: str,
        span: Span = NO_SPAN,
        source: Source | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source
        self.hint = hint

    @property
    def location(self) -> str:
        path = self.source.path if self.source else "<script>"
        if self.span.line <= 0:
            return path
        return f"{path}:{self.span.line}:{self.span.column}"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def render(self) -> str:
        parts = [str(self)]
        if self.source is not None:
            excerpt = self.source.excerpt(self.span)
            if excerpt:
                parts.append(excerpt)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ScriptSyntaxError(ScriptError):
    """The text is not packetdrill's language."""

    kind = "parse error"


class ScriptSemanticError(ScriptError):
    """The text parses but packetdrill would refuse it before running (bad range, value...)."""

    kind = "semantic error"


class UsageError(DrillbookError):
    """Bad command-line usage or options."""

    exit_code = 2


class SandboxError(DrillbookError):
    """The network namespace or TUN device could not be set up (a machine problem)."""

    exit_code = 3


class RunAborted(DrillbookError):
    """The worker died, timed out or was interrupted; carries the partial trace if any."""

    exit_code = 3

    def __init__(self, message: str, trace: Any = None) -> None:
        super().__init__(message)
        self.trace = trace
