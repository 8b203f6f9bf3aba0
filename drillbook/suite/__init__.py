"""Suites: many scripts, every IP mode, N at a time, as upstream's ``run_all.py`` runs them.

``discover`` finds the cases, ``run_suite`` runs them (each in its own worker and network
namespace), and the reporters turn the :class:`SuiteResult` into a summary table, TAP, JUnit XML
or an agreement report against an ``expected.tsv``.
"""

from drillbook.suite.discovery import (
    ALL_MODES,
    Case,
    discover,
    find_scripts,
    modes_for,
    parse_modes,
)
from drillbook.suite.expected import Agreement, ExpectedRow, compare, load_expected
from drillbook.suite.junit import to_junit
from drillbook.suite.result import CaseResult, Cause, SuiteResult, Verdict
from drillbook.suite.runner import SuiteOptions, case_flags, run_suite
from drillbook.suite.summary import agreement_report, summary_table
from drillbook.suite.tap import to_tap

__all__ = [
    "ALL_MODES", "Agreement", "Case", "CaseResult", "Cause", "ExpectedRow", "SuiteOptions",
    "SuiteResult", "Verdict", "agreement_report", "case_flags", "compare", "discover",
    "find_scripts", "load_expected", "modes_for", "parse_modes", "run_suite", "summary_table",
    "to_junit", "to_tap",
]
