"""The layering of ../shared/DESIGN.md, enforced on the source: dependencies point down the data
flow (text -> parser -> Script -> engine + runtime -> Trace -> render -> jupyter / lessons), and
each heavy third-party package is used only by the one package that owns it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "drillbook"

# third-party package -> the drillbook packages (path prefixes) allowed to import it
OWNERS: dict[str, tuple[str, ...]] = {
    "lark": ("parser/",),
    "matplotlib": ("render/", "jupyter/", "lessons/"),
    "IPython": ("jupyter/",),
    "ipywidgets": ("jupyter/",),
    "traitlets": ("jupyter/", "classroom/spawner.py"),
    "jupyterhub": ("classroom/spawner.py",),
    "websocket": ("classroom/kernel.py",),
    "nbclient": ("lessons/",),
    "nbconvert": ("lessons/",),
    "pyroute2": ("runtime/",),
    "scapy": ("trace/pcap.py",),
    "pygments": ("highlight/",),
}

# drillbook package -> drillbook packages it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "script/": ("parser", "engine", "runtime", "trace", "render", "jupyter", "lessons"),
    "wire/": ("parser", "engine", "runtime", "render", "jupyter", "lessons"),
    "engine/": ("runtime", "render", "jupyter", "lessons", "parser"),
    "trace/": ("runtime", "engine", "render", "jupyter", "lessons", "parser"),
    "render/": ("runtime", "engine", "jupyter", "lessons", "stepper"),
    "parser/": ("engine", "runtime", "render", "jupyter", "lessons"),
    "highlight/": ("parser", "engine", "runtime", "trace", "render", "jupyter", "lessons"),
    "stepper/": ("parser", "engine", "runtime", "lessons"),
    "runtime/": ("testing", "render", "jupyter", "lessons"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources() -> list[tuple[str, set[str]]]:
    return [
        (path.relative_to(PACKAGE).as_posix(), _imports(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_third_party_packages_stay_in_their_layer() -> None:
    offences = []
    for relative, names in _sources():
        for name in names:
            top = name.split(".")[0]
            owners = OWNERS.get(top)
            if owners is not None and not relative.startswith(owners):
                offences.append(f"drillbook/{relative} imports {name}")
    assert offences == []


def test_dependencies_point_down_the_data_flow() -> None:
    offences = []
    for relative, names in _sources():
        for prefix, forbidden in FORBIDDEN.items():
            if not relative.startswith(prefix):
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "drillbook" and len(parts) > 1 and parts[1] in forbidden:
                    offences.append(f"drillbook/{relative} imports {name}")
    assert offences == []


def test_only_tests_import_the_testing_package() -> None:
    """drillbook.testing is for tests: no other drillbook package imports it, not even late
    inside a function or under TYPE_CHECKING (the run loop's own fakes live in the runtime)."""
    offences = [
        f"drillbook/{relative} imports {name}"
        for relative, names in _sources() if not relative.startswith("testing/")
        for name in names if name == "drillbook.testing" or name.startswith("drillbook.testing.")
    ]
    assert offences == []


def test_the_rules_catch_an_offence(tmp_path: Path) -> None:
    """The walker does see imports (a rule that sees nothing could never fail)."""
    source = tmp_path / "x.py"
    source.write_text("import matplotlib.pyplot\nfrom drillbook.runtime import api\n")
    assert _imports(source) == {"matplotlib.pyplot", "drillbook.runtime"}


@pytest.mark.parametrize("heavy", ["matplotlib", "IPython", "ipywidgets", "pyroute2", "lark"])
def test_import_drillbook_stays_light(heavy: str) -> None:
    code = f"import sys, drillbook; print({heavy!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
