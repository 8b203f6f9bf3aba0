"""``drillbook run --dry_run`` agrees with the C packetdrill over the whole corpus.

For every script and IP mode of expected.tsv (upstream's flags, run_all.py's file-name rule):
where packetdrill accepted the script at parse time, drillbook parses and checks it; where
packetdrill rejected it (``parse error`` / ``semantic error``), drillbook rejects it at the
same line with the same message.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from dry_run_corpus import CorpusRun, corpus_runs, mode_applies

from drillbook.commands.run import load
from drillbook.errors import ScriptError
from drillbook.options import parse_argv
from drillbook.script.checks import check_script

PROJECT = Path(__file__).resolve().parents[2]


def _dry_run(corpus: Path, run: CorpusRun) -> ScriptError | None:
    flags = parse_argv(run.flags())
    try:
        script, _ = load(str(corpus / "gtests-net" / run.path), flags)
        check_script(script)
    except ScriptError as exc:
        return exc
    return None


def test_every_corpus_run_matches_packetdrill_at_parse_time(corpus_dir: Path) -> None:
    runs = [r for r in corpus_runs(corpus_dir) if mode_applies(r.path, r.mode)]
    assert len(runs) > 400
    started = time.perf_counter()
    mismatches = []
    rejected = 0
    for run in runs:
        error = _dry_run(corpus_dir, run)
        if run.rejected_at_parse:
            rejected += 1
            expected_message = run.first_error.split(": ", 1)[1]
            if error is None or error.span.line != run.expected_line:
                mismatches.append(f"{run.path} [{run.mode.value}]: {error} vs {run.first_error}")
            elif error.message != expected_message:
                mismatches.append(f"{run.path}: message {error.message!r} vs {expected_message!r}")
        elif error is not None:
            mismatches.append(f"{run.path} [{run.mode.value}]: rejected: {error}")
    elapsed = time.perf_counter() - started
    assert not mismatches, "\n".join(mismatches)
    assert rejected >= 5  # the ICMP code scripts in ipv6 mode
    assert elapsed < 30, f"dry runs of the corpus took {elapsed:.1f} s"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drillbook", *args], capture_output=True, text=True,
        cwd=PROJECT, timeout=60,
    )


@pytest.mark.parametrize(
    ("relative", "mode_flag", "status"),
    [
        ("tcp/fastopen/server/icmp-baseline.pkt", "ipv4", 0),
        ("tcp/fastopen/server/icmp-baseline.pkt", "ipv6", 2),
        ("tcp/fastopen/client/syn-data-icmp-unreach-frag-needed.pkt", "ipv6", 2),
        ("packetdrill/tests/linux/fast_retransmit/fr-4pkt-sack-linux.pkt", "ipv4-mapped-ipv6", 0),
    ],
)
def test_real_cli_dry_run(corpus_dir: Path, relative: str, mode_flag: str, status: int) -> None:
    from drillbook.config import UPSTREAM_MODE_FLAGS, IpMode

    script = corpus_dir / "gtests-net" / relative
    result = _cli("run", *UPSTREAM_MODE_FLAGS[IpMode(mode_flag)], "--dry_run", str(script))
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    if status:
        assert "semantic error: bad ICMP code" in result.stderr
        assert "^" in result.stderr


def test_several_scripts_stop_at_the_first_failure(corpus_dir: Path) -> None:
    good = corpus_dir / "gtests-net/tcp/fastopen/server/icmp-baseline.pkt"
    bad = corpus_dir / "gtests-net/tcp/fastopen/client/syn-data-icmp-unreach-frag-needed.pkt"
    flags = ["--ip_version=ipv6", "--dry_run"]
    result = _cli(*flags, str(bad), str(good))
    assert result.returncode == 2
    assert "frag_needed" in result.stderr
    assert "CODE" not in result.stderr  # the second script never ran
    both_ok = _cli("--ip_version=ipv4", "-D", "CODE=host_unreachable", "--dry_run",
                   str(good), str(bad))
    assert both_ok.returncode == 0, both_ok.stderr
