"""The command side of the loop: backtick shell commands (with the init and cleanup commands)
and `%{ }%` snapshots."""

from __future__ import annotations

from drillbook.engine.actions import RunFailure, RunShell, Snapshot
from drillbook.engine.interpreter import status_text
from drillbook.runtime.loop.ports import ShellOutcome
from drillbook.runtime.loop.state import EventFailure, RunState
from drillbook.runtime.syscalls.tcpinfo import SockoptReadError
from drillbook.trace.model import FailureKind

SHELL_TIMEOUT_S = 120.0  # drillbook's guard: packetdrill would hang forever


class CommandIO:
    """Shell and snapshot actions, and the script's init and cleanup commands."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def _shell(self, command: str) -> ShellOutcome:
        state = self.state
        result = state.device.run_shell(command, {}, SHELL_TIMEOUT_S)
        if state.blocking is not None:
            state.blocking.interrupt()  # the SIGCHLD packetdrill's system(3) leaves behind
        return result

    def init(self) -> None:
        state = self.state
        init = state.script.init_command
        if init is None:
            return
        result = self._shell(init.command)
        if result.output:
            state.verbose.append(result.output)
        state.recorder.command_output(result.output)
        state.init_ran = True
        if result.returncode != 0:
            raise EventFailure(RunFailure(
                FailureKind.COMMAND, init.span.line,
                f"error executing init command: {status_text(result.returncode)}",
            ))

    def cleanup(self, after_failure: bool = False) -> None:
        state = self.state
        cleanup = state.script.cleanup_command
        if cleanup is None or not state.init_ran:
            return
        result = self._shell(cleanup.command)
        state.recorder.command_output(result.output)
        if result.returncode != 0 and not after_failure:
            raise EventFailure(RunFailure(
                FailureKind.COMMAND, cleanup.span.line,
                f"error executing cleanup command: {status_text(result.returncode)}",
            ))

    def run_shell(self, action: RunShell) -> None:
        state = self.state
        actual = self._start(action, "command")
        result = self._shell(action.command)
        state.interpreter.completed(state.clock.now_us())
        state.recorder.command_output(result.output)
        state.record(state.interpreter.judge_command(action, result.returncode, actual))

    def snapshot(self, action: Snapshot) -> None:
        state = self.state
        actual = self._start(action, "data collection for code")
        target = state.interpreter.snapshot_socket()
        error = target if isinstance(target, str) else None
        if isinstance(target, int):
            try:
                values = state.syscalls.code_snapshot(target)  # decoded after the run
            except SockoptReadError as failure:
                error = str(failure)
        if error is None:
            state.interpreter.completed(state.clock.now_us())
            state.code.snapshot(action.block, action.current.line, values)
        state.record(state.interpreter.judge_snapshot(action, error, actual))

    def _start(self, action: RunShell | Snapshot, description: str) -> int:
        state = self.state
        state.idle(action.at_us)
        actual = state.clock.wait_until(action.at_us)
        late = state.interpreter.check_start(action.current, actual, description)
        if late is not None:
            state.record(late)
        return actual
