"""JUnit XML output (the dialect CI systems read): one ``testsuite``, one ``testcase`` per run
with ``classname`` = the script's path and ``name`` = the IP mode; failures carry the
packetdrill-style message, machine problems are ``error`` elements."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from drillbook.suite.result import CaseResult, SuiteResult, Verdict


def to_junit(suite: SuiteResult, name: str = "drillbook") -> str:
    """The whole suite as a JUnit XML document."""
    root = ET.Element("testsuites")
    element = ET.SubElement(root, "testsuite", {
        "name": name,
        "tests": str(len(suite.results)),
        "failures": str(suite.count(Verdict.FAIL)),
        "errors": str(suite.count(Verdict.ERROR)),
        "skipped": "0",
        "time": f"{suite.wall_s:.3f}",
    })
    for result in suite.results:
        element.append(_testcase(result))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(result: CaseResult) -> ET.Element:
    case = ET.Element("testcase", {
        "classname": result.case.name,
        "name": result.case.mode.value,
        "time": f"{result.duration_s:.3f}",
    })
    if not result.passed:
        tag = "failure" if result.verdict is Verdict.FAIL else "error"
        child = ET.SubElement(case, tag, {"message": _clean(result.message),
                                          "type": result.cause.value})
        child.text = _clean("\n".join(filter(None, (result.message, result.details))))
    if result.output:
        ET.SubElement(case, "system-out").text = _clean(result.output)
    return case


def _clean(text: str) -> str:
    """XML 1.0 forbids most control characters: a script's output may contain them."""
    return "".join(ch if _xml_ok(ch) else f"\\x{ord(ch):02x}" for ch in text)


def _xml_ok(ch: str) -> bool:
    code = ord(ch)
    if code < 0x20:
        return ch in "\t\n\r"
    return not (0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF))
