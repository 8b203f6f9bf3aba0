"""``drillbook run --dry_run`` agrees with the C packetdrill over the whole corpus.

For every script and IP mode of expected.tsv (upstream's flags, run_all.py's file-name rule):
where packetdrill accepted the script at parse time, drillbook parses and checks it; where
packetdrill rejected it (``parse error`` / ``semantic error``), drillbook rejects it at the
same line with the same message.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dry_run_corpus import CorpusRun, corpus_runs, mode_applies

from drillbook.commands.run import load
from drillbook.config import UPSTREAM_MODE_FLAGS, IpMode
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
    started = time.process_time()  # CPU time: the machine is shared, wall time is noisy
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
    elapsed = time.process_time() - started
    assert not mismatches, "\n".join(mismatches)
    assert rejected >= 5  # the ICMP code scripts in ipv6 mode
    assert elapsed < 30, f"dry runs of the corpus took {elapsed:.1f} s of CPU"


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


# ---------------------------------------------------------------- differential, against C
#
# With DRILLBOOK_PACKETDRILL=/path/to/packetdrill (the C binary, built from upstream), mutated
# corpus scripts are dry-run by both; they must agree on accept/reject, line and message.

_VOCABULARY = [
    "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", "=", "+", "*", "~", ".", "-", "|", "...",
    "0", "1", "-1", "70000", "4294967296", ".5", "0x10", "S", "S.", "P.", "win", "ack", "urg",
    "mss", "nop", "sack", "sackOK", "TS", "val", "ecr", "FO", "FOEXP", "md5", "ECN", "e0b",
    "icmp", "udp", "unreachable", "frag_needed", "mtu", "ect0", "ect01", "tos", "ttl", '"s"',
    "`c`", "%{ x }%", "EAGAIN", "(x)", "abc", "1.2.3.4", "::1", "raw", "gre", "mpls", "htons",
    "fd", "events", "linger", "--mtu=1", "\n", "type_3", "code_4", "@", "0.1", "+.1~+.2",
]


def _mutate(text: str, rng: random.Random) -> str:
    from drillbook.parser.lexer import tokenize

    for _ in range(rng.randint(1, 2)):
        lexemes = tokenize(text)
        if not lexemes:
            break
        target = lexemes[rng.randrange(len(lexemes))]
        choice = rng.random()
        if choice < 0.3:
            text = text[: target.offset] + text[target.end :]
        elif choice < 0.6:
            text = text[: target.offset] + rng.choice(_VOCABULARY) + text[target.end :]
        else:
            text = text[: target.offset] + rng.choice(_VOCABULARY) + " " + text[target.offset :]
    return text


def _c_verdict(binary: str, flags: list[str], path: Path) -> tuple[int | None, str] | None:
    """(line, message) of packetdrill's first error; line None for header-option errors."""
    result = subprocess.run([binary, *flags, "--dry_run", str(path)], capture_output=True,
                            text=True, errors="replace", timeout=30)
    if result.returncode == 0:
        return None
    first = result.stderr.strip().removeprefix(f"{path}:")
    line, _, message = first.partition(": ")
    if not line.isdigit():  # "path: option 'x' unknown": no line number
        return None, first.strip()
    return int(line), message


@pytest.mark.skipif(not os.environ.get("DRILLBOOK_PACKETDRILL"),
                    reason="set DRILLBOOK_PACKETDRILL to a C packetdrill binary")
@pytest.mark.parametrize("mode", list(IpMode), ids=lambda m: m.value)
def test_mutated_scripts_agree_with_c_packetdrill(
    corpus_dir: Path, tmp_path: Path, mode: IpMode
) -> None:
    binary = os.environ["DRILLBOOK_PACKETDRILL"]
    flags = list(UPSTREAM_MODE_FLAGS[mode])
    rng = random.Random(f"dry-run-{mode.value}")
    scripts = sorted((corpus_dir / "gtests-net").rglob("*.pkt"))
    disagreements = []
    for index in range(60):
        text = _mutate(rng.choice(scripts).read_text(), rng)
        path = tmp_path / f"m{index}.pkt"
        path.write_text(text)
        try:
            script, _ = load(str(path), parse_argv([*flags, "--dry_run"]))
            ours: tuple[int | None, str] | None = None
        except ScriptError as exc:
            ours = (exc.span.line, exc.message)
        theirs = _c_verdict(binary, flags, path)
        if theirs is not None and theirs[0] is None and ours is not None:
            ours = (None, ours[1])  # drillbook adds the line packetdrill leaves out
        if ours != theirs:
            disagreements.append(f"{path}: C {theirs} vs drillbook {ours}\n{text}")
    assert not disagreements, "\n\n".join(disagreements[:3])
