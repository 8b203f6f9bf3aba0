"""drillbook.suite: discovery, modes, agreement, retries, reporters (no kernel needed)."""

from __future__ import annotations

import io
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest

from drillbook.commands import suite as suite_command
from drillbook.config import UPSTREAM_COMMON_FLAGS, UPSTREAM_MODE_FLAGS, IpMode
from drillbook.suite import (
    ALL_MODES,
    Case,
    CaseResult,
    Cause,
    SuiteOptions,
    SuiteResult,
    Verdict,
    agreement_report,
    case_flags,
    compare,
    discover,
    load_expected,
    modes_for,
    parse_modes,
    run_suite,
    summary_table,
    to_junit,
    to_tap,
)
from drillbook.suite.expected import ExpectedRow
from drillbook.suite.progress import ProgressLine
from drillbook.suite.result import error_line
from drillbook.suite.retry import run_with_retries
from drillbook.suite.tap import tap_counts

V4, V6, MAPPED = IpMode.IPV4, IpMode.IPV6, IpMode.IPV4_MAPPED_IPV6


def _tree(root: Path, names: Sequence[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")


# ------------------------------------------------------------------ discovery and modes


def test_modes_follow_run_all_name_rules() -> None:
    assert modes_for("a/x.pkt") == (V4, MAPPED, V6)
    assert modes_for("a/x-v6.pkt") == (V6,)
    assert modes_for("a/xipv6.pkt") == (V6,)  # upstream only looks at the name's end
    assert modes_for("a/x-v4.pkt") == (V4, MAPPED)
    assert modes_for("a/x-v4.pkt", (V6,)) == ()
    assert modes_for("a/x.pkt", (V6, V4)) == (V4, V6)


def test_discover_sorts_and_expands_modes(tmp_path: Path) -> None:
    _tree(tmp_path, ["b/z.pkt", "a/y-v6.pkt", "a/x-v4.pkt", "a/notes.txt"])
    cases = discover([str(tmp_path)])
    assert [(c.name, c.mode) for c in cases] == [
        ("a/x-v4.pkt", V4), ("a/x-v4.pkt", MAPPED), ("a/y-v6.pkt", V6),
        ("b/z.pkt", V4), ("b/z.pkt", MAPPED), ("b/z.pkt", V6),
    ]
    assert all(os.path.isabs(c.path) for c in cases)
    assert cases[0].label == "a/x-v4.pkt (ipv4)"


def test_discover_runs_a_script_named_twice_once(tmp_path: Path) -> None:
    _tree(tmp_path, ["a/x.pkt"])
    cases = discover([str(tmp_path), str(tmp_path / "a" / "x.pkt")], (V4,))
    assert [c.name for c in cases] == ["a/x.pkt"]


def test_discover_a_single_file_and_a_missing_path(tmp_path: Path) -> None:
    _tree(tmp_path, ["one.pkt"])
    assert [c.name for c in discover([str(tmp_path / "one.pkt")], (V4,))] == ["one.pkt"]
    with pytest.raises(FileNotFoundError):
        discover([str(tmp_path / "nope")])


def test_parse_modes() -> None:
    assert parse_modes("all") == ALL_MODES
    assert parse_modes("ipv6,ipv4") == (V4, V6)
    assert parse_modes("ipv4-mapped-v6") == (MAPPED,)
    with pytest.raises(ValueError, match="unknown IP mode 'ipv5'"):
        parse_modes("ipv5")
    with pytest.raises(ValueError):
        parse_modes(",")


def test_case_flags_are_upstreams_then_the_users() -> None:
    case = Case("/x.pkt", "x.pkt", V6)
    flags = case_flags(case, SuiteOptions(extra_flags=("--tolerance_usecs=9000",)))
    assert flags == (*UPSTREAM_COMMON_FLAGS, *UPSTREAM_MODE_FLAGS[V6], "--tolerance_usecs=9000")
    bare = case_flags(case, SuiteOptions(upstream_flags=False))
    assert bare == ("--ip_version=ipv6",)


def test_discover_the_corpus_matches_expected_rows(corpus_dir: Path) -> None:
    cases = discover([str(corpus_dir / "gtests-net")])
    rows = load_expected(str(corpus_dir / "expected.tsv"))
    assert {(c.name, c.mode) for c in cases} == {(r.path, r.mode) for r in rows}


# ------------------------------------------------------------------ agreement


def _result(name: str, mode: IpMode, verdict: Verdict, message: str = "") -> CaseResult:
    cause = Cause.NONE if verdict is Verdict.PASS else Cause.PACKET
    return CaseResult(Case(f"/corpus/gtests-net/{name}", name, mode), verdict, cause, message)


def test_error_line() -> None:
    assert error_line("x.pkt:12: error handling packet: ...") == 12
    assert error_line("x.pkt:7:3: syntax error") == 7
    assert error_line("") is None
    assert error_line("the worker crashed: x") is None


def test_compare_scores_verdicts_and_lines() -> None:
    rows = [
        ExpectedRow("t/a.pkt", V4, "pass"),
        ExpectedRow("t/b.pkt", V4, "fail", "b.pkt:5: error handling packet: x"),
        ExpectedRow("t/c.pkt", V4, "fail", "c.pkt:9: error handling packet: y"),
        ExpectedRow("t/d.pkt", V4, "flaky"),
        ExpectedRow("t/e.pkt", V4, "pass"),
        ExpectedRow("t/unrun.pkt", V4, "pass"),
    ]
    results = [
        _result("t/a.pkt", V4, Verdict.PASS),
        _result("t/b.pkt", V4, Verdict.FAIL, "b.pkt:5: something else"),
        _result("t/c.pkt", V4, Verdict.FAIL, "c.pkt:10: error handling packet: y"),
        _result("t/d.pkt", V4, Verdict.FAIL, "d.pkt:1: z"),
        _result("t/e.pkt", V4, Verdict.ERROR, "sandbox"),
        _result("t/new.pkt", V4, Verdict.PASS),
    ]
    agreement = compare(results, rows)
    assert len(agreement.scored) == 4  # flaky and unrun rows are not scored
    assert agreement.verdict_agreeing == 3  # an ERROR never agrees
    assert agreement.verdict_ratio == pytest.approx(0.75)
    assert len(agreement.both_failing) == 2 and agreement.line_agreeing == 1
    assert [r.case.name for r in agreement.unrecorded] == ["t/new.pkt"]
    assert not agreement.ok
    assert [c.row.path for c in agreement.disagreements] == ["t/e.pkt", "t/c.pkt"]
    assert "3/4 (75.0 %" in agreement.summary()
    report = agreement_report(agreement)
    assert "does NOT agree" in report and "c.pkt:10:" in report


def test_compare_finds_rows_by_path_suffix_and_mode() -> None:
    rows = [ExpectedRow("tcp/x/a.pkt", V6, "pass"), ExpectedRow("tcp/x/a.pkt", V4, "fail")]
    result = CaseResult(Case("/any/where/tcp/x/a.pkt", "a.pkt", V6), Verdict.PASS)
    agreement = compare([result], rows)
    assert agreement.ok and agreement.comparisons[0].row.mode is V6


def test_load_expected_reads_the_corpus_file(corpus_dir: Path) -> None:
    rows = load_expected(str(corpus_dir / "expected.tsv"))
    verdicts = {r.verdict for r in rows}
    assert verdicts == {"pass", "fail", "flaky"}
    failing = [r for r in rows if r.verdict == "fail"]
    assert failing and all(r.line is not None for r in failing)


def test_load_expected_rejects_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "e.tsv"
    path.write_text("path\tip_mode\tverdict\tfirst_error\nx.pkt\tipv5\tpass\t\n")
    with pytest.raises(ValueError, match=r"e.tsv:2:"):
        load_expected(str(path))


# ------------------------------------------------------------------ retries and the runner


class _Scripted:
    """An attempt function that plays back causes, one per call."""

    def __init__(self, causes: Sequence[Cause]) -> None:
        self.causes = list(causes)
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, case: Case, flags: Sequence[str], timeout_s: float) -> CaseResult:
        with self.lock:
            cause = self.causes[min(self.calls, len(self.causes) - 1)]
            self.calls += 1
        verdict = Verdict.PASS if cause is Cause.NONE else Verdict.FAIL
        return CaseResult(case, verdict, cause, f"x.pkt:3: {cause.value}", duration_s=0.5)


CASE = Case("/x.pkt", "x.pkt", V4)


def test_timing_failures_are_retried_until_they_pass() -> None:
    attempt = _Scripted([Cause.TIMING, Cause.TIMEOUT, Cause.NONE])
    result = run_with_retries(attempt, CASE, (), 1.0, retries=2)
    assert result.passed and result.attempts == 3 and result.duration_s == pytest.approx(1.5)


def test_retries_are_bounded() -> None:
    attempt = _Scripted([Cause.TIMING])
    result = run_with_retries(attempt, CASE, (), 1.0, retries=2)
    assert result.cause is Cause.TIMING and attempt.calls == 3


def test_field_mismatches_are_never_retried() -> None:
    for cause in (Cause.PACKET, Cause.SYSCALL, Cause.SCRIPT, Cause.ABORTED):
        attempt = _Scripted([cause, Cause.NONE])
        result = run_with_retries(attempt, CASE, (), 1.0, retries=5)
        assert not result.passed and attempt.calls == 1, cause


def test_run_suite_keeps_discovery_order_and_reports_progress() -> None:
    cases = [Case(f"/s{i}.pkt", f"s{i}.pkt", V4) for i in range(12)]
    stream = io.StringIO()
    progress = ProgressLine(stream, len(cases), live=False)
    attempt = _Scripted([Cause.NONE])
    suite = run_suite(cases, SuiteOptions(jobs=3, attempt=attempt), progress)
    assert [r.case for r in suite.results] == cases
    assert suite.all_passed and suite.jobs == 3
    lines = stream.getvalue().splitlines()
    assert len(lines) == 12 and lines[-1].startswith("[12/12] 12 ok 0 fail 0 err")


def test_live_progress_redraws_in_place() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream, 2, live=True)
    progress.started(CASE)
    progress.finished(CaseResult(CASE, Verdict.FAIL, Cause.PACKET, "x.pkt:3: bad"))
    progress.close()
    text = stream.getvalue()
    assert "\r\x1b[K" in text and "FAIL x.pkt (ipv4)" in text and "x.pkt:3: bad" in text


# ------------------------------------------------------------------ reporters


def _suite() -> SuiteResult:
    a = Case("/t/a.pkt", "t/a.pkt", V4)
    b = Case("/t/b.pkt", "t/b.pkt", V6)
    c = Case("/t/c.pkt", "t/c.pkt", MAPPED)
    return SuiteResult((
        CaseResult(a, Verdict.PASS, duration_s=1.25, output="hello\x01"),
        CaseResult(b, Verdict.FAIL, Cause.PACKET, 'b.pkt:4: field "tcp_ack"', "script: x\n"
                   "actual: y", 2.0, attempts=1),
        CaseResult(c, Verdict.ERROR, Cause.SANDBOX, "needs CAP_NET_ADMIN"),
    ), wall_s=3.5, jobs=2)


def test_tap_output() -> None:
    text = to_tap(_suite())
    lines = text.splitlines()
    assert lines[:3] == ["TAP version 13", "1..3", "ok 1 t/a.pkt (ipv4)"]
    assert "not ok 2 t/b.pkt (ipv6)" in lines and "# actual: y" in lines
    assert '  message: "b.pkt:4: field \\"tcp_ack\\""' in lines
    assert tap_counts(text) == (1, 2)


def test_junit_output_is_valid_xml_with_failures_and_errors() -> None:
    root = ET.fromstring(to_junit(_suite()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("t/a.pkt", "ipv4"), ("t/b.pkt", "ipv6"), ("t/c.pkt", "ipv4-mapped-ipv6")]
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == 'b.pkt:4: field "tcp_ack"'
    assert cases[2].find("error") is not None
    out = cases[0].find("system-out")
    assert out is not None and out.text == "hello\\x01"


def test_summary_table() -> None:
    text = summary_table(_suite())
    assert "pass           1" in text and "packet         1" in text
    assert "fail  t/b.pkt (ipv6): b.pkt:4:" in text
    assert text.splitlines()[-1].startswith("Ran 3 runs: 1 passing, 1 failing")


# ------------------------------------------------------------------ the command


def test_command_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert suite_command.main([str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert suite_command.main(["--jobs", "0", str(tmp_path)]) == 2
    assert suite_command.main(["--modes", "ipv5", str(tmp_path)]) == 2
    assert suite_command.main(["--help"]) == 0


def test_command_with_no_scripts_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    tap = tmp_path / "out.tap"
    assert suite_command.main([str(tmp_path), "--tap", str(tap), "-q"]) == 0
    assert tap.read_text().startswith("TAP version 13\n1..0\n")
    assert "Ran 0 runs" in capsys.readouterr().out


def test_json_output_round_trips() -> None:
    import json

    from drillbook.suite.jsonout import to_json

    data = json.loads(to_json(_suite()))
    assert data["jobs"] == 2 and not data["interrupted"]
    assert [(r["path"], r["ip_mode"], r["verdict"]) for r in data["results"]] == [
        ("t/a.pkt", "ipv4", "pass"), ("t/b.pkt", "ipv6", "fail"),
        ("t/c.pkt", "ipv4-mapped-ipv6", "error")]
    assert data["results"][1]["line"] == 4 and data["results"][1]["cause"] == "packet"


def test_expected_implies_the_conformance_retries() -> None:
    parser = suite_command.build_parser()
    assert suite_command.retries_for(parser.parse_args(["x"])) == 0
    with_expected = parser.parse_args(["x", "--expected", "e.tsv"])
    assert suite_command.retries_for(with_expected) == suite_command.EXPECTED_RETRIES == 2
    explicit = parser.parse_args(["x", "--expected", "e.tsv", "--retries", "0"])
    assert suite_command.retries_for(explicit) == 0


def test_more_jobs_than_cpus_is_warned_about(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from drillbook.suite.jobs import cpu_count, default_jobs, jobs_warning

    assert jobs_warning(2, 2) is None and jobs_warning(1, 4) is None
    assert [default_jobs(cpus) for cpus in (1, 2, 8)] == [1, 2, 2]  # never a warning by default
    warning = jobs_warning(3, 2)
    assert warning is not None and "--jobs 3" in warning and "(2)" in warning
    assert "--jobs 2 keeps them apart" in warning
    # The command says so on stderr and runs anyway (here: no scripts, exit 0).
    assert suite_command.main([str(tmp_path), "-q", "--jobs", str(cpu_count() + 1)]) == 0
    err = capsys.readouterr().err
    assert f"drillbook suite: warning: --jobs {cpu_count() + 1} runs more scripts" in err
    assert suite_command.main([str(tmp_path), "-q", "--jobs", str(cpu_count())]) == 0
    assert "warning" not in capsys.readouterr().err
