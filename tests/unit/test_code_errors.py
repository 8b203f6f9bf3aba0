"""A failed %{ }% program's stderr in the script's terms (drillbook.runtime.loop.code_errors)."""

from __future__ import annotations

from drillbook.runtime.loop.code_errors import LineMap, relocate

PROGRAM = "/tmp/drillbook-code-x/code.py"
STDERR = (
    "x.pkt:10: error in Python code\n"
    "Traceback (most recent call last):\n"
    f'  File "{PROGRAM}", line 140, in <module>\n'
    "    assert tcpi_snd_cwnd == 999, tcpi_snd_cwnd\n"
    "AssertionError: 10\n"
    "x.pkt: error executing code: 'python3' returned non-zero status 1"
)
LINES = LineMap({139: (11, "print('cwnd')"),
                 140: (12, "assert tcpi_snd_cwnd == 999, tcpi_snd_cwnd")})


def test_the_headline_names_the_statement_its_line_and_the_exception() -> None:
    lines = relocate(STDERR, PROGRAM, "x.pkt", LINES).splitlines()
    assert lines[0] == ("x.pkt:10: error in Python code: line 12: "
                        "assert tcpi_snd_cwnd == 999, tcpi_snd_cwnd raised AssertionError: 10")
    assert lines[2] == '  File "x.pkt", line 12, in <module>'  # the traceback stays below
    assert lines[-2:] == ["AssertionError: 10",
                          "x.pkt: error executing code: 'python3' returned non-zero status 1"]


def test_no_temporary_path_is_left() -> None:
    nested = STDERR.replace(
        "AssertionError: 10",
        f'  File "{PROGRAM}", line 139, in helper\n    print(\'cwnd\')\nAssertionError: 10')
    text = relocate(nested, PROGRAM, "x.pkt", LINES)
    assert PROGRAM not in text and "line 11, in helper" in text
    assert "line 11: print('cwnd') raised" in text.splitlines()[0]  # the innermost frame


def test_a_line_outside_the_blocks_says_so_and_other_files_are_kept() -> None:
    text = relocate(STDERR.replace("line 140", "line 3") + '\n  File "/usr/lib/x.py", line 9',
                    PROGRAM, "x.pkt", LINES)
    assert 'File "x.pkt", in the code drillbook adds' in text
    assert 'File "/usr/lib/x.py", line 9' in text
    assert text.splitlines()[0] == "x.pkt:10: error in Python code"


def test_stderr_without_the_program_is_unchanged() -> None:
    assert relocate("something else\n", PROGRAM, "x.pkt", LINES) == "something else\n"
