"""pytest plugin: packetdrill scripts as test items, one per IP mode.

A project opts in from its pytest configuration::

    [tool.pytest.ini_options]
    drillbook_collect = true
    drillbook_paths = ["tests/pkt"]          # optional: only .pkt files under these folders
    drillbook_modes = "ipv4,ipv6"            # optional, default all three
    drillbook_flags = "--tolerance_usecs=8000"  # optional packetdrill flags for every run
    drillbook_retries = 1                    # optional, runs that failed on timing only

Items are named ``path/x.pkt::ipv4`` and carry the ``kernel`` marker; they run like
``drillbook suite`` runs a case (upstream's per-mode flags, the script's folder as working
directory), and a failure shows packetdrill's message, e.g.
``x.pkt:12: error handling packet: live packet field tcp_ack: expected: 1001 vs actual: 2001``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drillbook.config import IpMode
from drillbook.suite.discovery import Case, modes_for, parse_modes
from drillbook.suite.result import CaseResult
from drillbook.suite.runner import DEFAULT_TIMEOUT_S, SuiteOptions, case_flags


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the opt-in settings."""
    parser.addini("drillbook_collect", "collect *.pkt files as drillbook test items",
                  type="bool", default=False)
    parser.addini("drillbook_paths", "only collect .pkt files under these folders "
                  "(relative to the rootdir)", type="linelist", default=[])
    parser.addini("drillbook_modes", "IP modes to run each script in (comma-separated)",
                  default="all")
    parser.addini("drillbook_flags", "packetdrill flags for every run", default="")
    parser.addini("drillbook_retries", "retries for runs that failed on timing only",
                  default="0")
    parser.addini("drillbook_timeout", "seconds before a run is killed",
                  default=str(DEFAULT_TIMEOUT_S))


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker the items carry (a project may not declare it)."""
    config.addinivalue_line(
        "markers", "kernel: runs scripts against the real kernel in a network namespace")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect a ``.pkt`` file when the project opted in and it lies under drillbook_paths."""
    config = parent.config
    if file_path.suffix != ".pkt" or not config.getini("drillbook_collect"):
        return None
    roots = [Path(config.rootpath, p).resolve() for p in config.getini("drillbook_paths")]
    resolved = file_path.resolve()
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        return None
    return PktFile.from_parent(parent, path=file_path)


def _options(config: pytest.Config) -> SuiteOptions:
    return SuiteOptions(
        jobs=1,
        retries=int(config.getini("drillbook_retries")),
        timeout_s=float(config.getini("drillbook_timeout")),
        extra_flags=tuple(shlex.split(str(config.getini("drillbook_flags")))),
    )


class PktFile(pytest.File):
    """A packetdrill script: one item per IP mode it runs in (run_all.py's name rules)."""

    def collect(self) -> Iterator[pytest.Item]:
        modes = parse_modes(str(self.config.getini("drillbook_modes")))
        for mode in modes_for(str(self.path), modes):
            yield PktItem.from_parent(self, name=mode.value, mode=mode)


class PktFailure(Exception):
    """A script that did not pass; carries the suite's case result."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.message)
        self.result = result


class PktItem(pytest.Item):
    """One script in one IP mode."""

    def __init__(self, *, mode: IpMode, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self.add_marker(pytest.mark.kernel)

    @property
    def case(self) -> Case:
        return Case(str(self.path.resolve()), self.path.name, self.mode)

    def runtest(self) -> None:
        """Run the script like ``drillbook suite`` runs a case; raise on anything but a pass."""
        from drillbook.suite.retry import run_with_retries

        options = _options(self.config)
        flags = case_flags(self.case, options)
        result = run_with_retries(options.attempt, self.case, flags, options.timeout_s,
                                  options.retries)
        if not result.passed:
            raise PktFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        """packetdrill's message, then the script and actual packets (no Python traceback)."""
        if isinstance(excinfo.value, PktFailure):
            result = excinfo.value.result
            lines = [result.message, result.details]
            if result.attempts > 1:
                lines.append(f"({result.attempts} attempts; failed on timing each time)")
            return "\n".join(line for line in lines if line)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the item lives: the script, and its mode."""
        return self.path, 0, f"{self.path.name} ({self.mode.value})"
