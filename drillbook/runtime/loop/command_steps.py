"""The command and code steps of a run: backtick shell commands (with the init and cleanup
commands) and `%{ }%` snapshots."""

from __future__ import annotations

from typing import Any

from drillbook.runtime.loop.base import EventFailure, EventState, RunBase
from drillbook.runtime.syscalls.tcpinfo import SockoptReadError
from drillbook.script.model import CodeBlock, Event, ShellCommand
from drillbook.trace.model import FailureKind, Outcome, StepKind

SHELL_TIMEOUT_S = 120.0  # drillbook's guard: packetdrill would hang forever


class CommandSteps(RunBase):
    """Shell command and code lines."""

    def _shell(self, command: str) -> Any:
        result = self.sandbox.run_shell(command, {}, SHELL_TIMEOUT_S)
        if self.blocking is not None:
            self.blocking.interrupt()  # the SIGCHLD packetdrill's system(3) leaves behind
        return result

    def _run_init_command(self) -> None:
        if self.script.init_command is None:
            return
        result = self._shell(self.script.init_command.command)
        if result.output:
            self.verbose.append(result.output)
        self.recorder.command_output(result.output)
        self.init_ran = True
        if result.returncode != 0:
            line = self.script.init_command.span.line
            raise EventFailure(
                FailureKind.COMMAND,
                line,
                f"error executing init command: {status_text(result.returncode)}",
            )

    def _run_cleanup_command(self, after_failure: bool = False) -> None:
        cleanup = self.script.cleanup_command
        if cleanup is None or not self.init_ran:
            return
        result = self._shell(cleanup.command)
        self.recorder.command_output(result.output)
        if result.returncode != 0 and not after_failure:
            raise EventFailure(
                FailureKind.COMMAND,
                cleanup.span.line,
                f"error executing cleanup command: {status_text(result.returncode)}",
            )

    def _run_command(self, event: Event, spec: ShellCommand, state: EventState) -> None:
        actual = self._wait_for(event, state, "command")
        result = self._shell(spec.command)
        self.completed_us = self.clock.now_us()
        self.recorder.command_output(result.output)
        if result.returncode != 0:
            message = f"error executing `{spec.command}` command: {status_text(result.returncode)}"
            kind = StepKind.COMMAND
            self._fail(event, state, kind, FailureKind.COMMAND, message, actual_us=actual)
        self._step(
            event,
            state,
            StepKind.COMMAND,
            Outcome.OK,
            actual_us=actual,
            tcp_info=self._tcp_info(actual),
        )

    def _run_code(self, event: Event, spec: CodeBlock, state: EventState) -> None:
        actual = self._wait_for(event, state, "data collection for code")
        try:
            if self.engine.socket is None:
                raise SockoptReadError("no socket to use for code")
            live_fd = self.engine.socket_live_fd()
            if live_fd is None:  # a child not accepted yet: packetdrill's getsockopt(-1) fails
                raise SockoptReadError("can't find getsockopt to get TCP info")
            values = self.executor.code_snapshot(live_fd)  # decoded after the run
        except SockoptReadError as error:
            message = f"runtime error in code: {error}"
            self._fail(event, state, StepKind.CODE, FailureKind.CODE, message, actual_us=actual)
        self.completed_us = self.clock.now_us()
        self.code.snapshot(spec, event.line, values)
        self._step(
            event,
            state,
            StepKind.CODE,
            Outcome.OK,
            actual_us=actual,
            tcp_info=self._tcp_info(actual),
        )


def status_text(returncode: int) -> str:
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"non-zero exit status {returncode}"


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
