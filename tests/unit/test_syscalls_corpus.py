"""Every syscall in the corpus has a handler and its arguments evaluate (symbols resolve)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drillbook.config import UPSTREAM_MODE_FLAGS, IpMode, RunConfig
from drillbook.runtime.syscalls.args import SyscallFailure, evaluate
from drillbook.runtime.syscalls.executor import SYSCALL_HANDLERS
from drillbook.script.model import SyscallSpec

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("DRILLBOOK_CORPUS", PROJECT.parent / "shared" / "corpus"))


def _defines(mode: IpMode) -> tuple[tuple[str, str], ...]:
    flags = UPSTREAM_MODE_FLAGS[mode]
    pairs = [flags[i + 1] for i, flag in enumerate(flags) if flag == "-D"]
    return tuple(tuple(pair.split("=", 1)) for pair in pairs)  # type: ignore[misc]


def test_handlers_cover_packetdrills_32_syscalls() -> None:
    assert len(SYSCALL_HANDLERS) == 32


def test_corpus_syscalls_have_handlers_and_evaluate() -> None:
    parser = pytest.importorskip("drillbook.parser")
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set DRILLBOOK_CORPUS)")
    config = RunConfig(ip_mode=IpMode.IPV4, defines=_defines(IpMode.IPV4))
    checked, failures = 0, []
    for path in sorted(CORPUS.glob("gtests-net/**/*.pkt")):
        try:
            script = parser.parse_script(path.read_text(), path.name, config)
        except Exception:  # noqa: BLE001 - scripts packetdrill itself rejects are not ours
            continue
        for event in script.events:
            spec = event.action
            if not isinstance(spec, SyscallSpec):
                continue
            checked += 1
            if spec.name not in SYSCALL_HANDLERS:
                failures.append(f"{path.name}:{event.line}: no handler for {spec.name}")
                continue
            try:
                for arg in (*spec.args, spec.result):
                    evaluate(arg)
            except SyscallFailure as failure:
                failures.append(f"{path.name}:{event.line}: {failure}")
    assert checked > 1500
    assert not failures
