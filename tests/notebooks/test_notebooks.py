"""Execute the notebooks with a real Jupyter kernel (nbclient) and check what a user sees.

The kernel is the running interpreter (a kernelspec made at test time points at
``sys.executable``), so it has this checkout's drillbook. Runs need the real kernel's network
namespaces and TUN device, hence root.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernel_support import KERNEL_MARKS
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
# The labs in labs/ have their own tests (test_labs.py); these are the notebooks/ ones.
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DEMO = ROOT / "notebooks" / "drillbook-demo.ipynb"
KERNEL_NAME = "drillbook-test-python"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGES = ("image/svg+xml", "image/png")




pytestmark = KERNEL_MARKS


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A kernelspec for this interpreter, found through JUPYTER_PATH."""
    data = tmp_path_factory.mktemp("jupyter")
    spec = data / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "drillbook tests", "language": "python"})
    )
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(data), old]))
    yield KERNEL_NAME
    if old is None:
        del os.environ["JUPYTER_PATH"]
    else:
        os.environ["JUPYTER_PATH"] = old


def _execute(nb: Any, kernel_name: str, cwd: Path) -> Any:
    client = NotebookClient(
        nb, kernel_name=kernel_name, timeout=180, resources={"metadata": {"path": str(cwd)}}
    )
    return client.execute()


def _tagged(nb: Any, tag: str) -> Any:
    return next(cell for cell in nb.cells if tag in cell.metadata.get("tags", []))


def _data(cell: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for output in cell.outputs:
        merged.update(output.get("data", {}))
    return merged


def _errors(cell: Any) -> list[Any]:
    return [output for output in cell.outputs if output.output_type == "error"]


@pytest.fixture(scope="module")
def demo(kernel_name: str) -> Any:
    return _execute(nbformat.read(DEMO, as_version=4), kernel_name, DEMO.parent)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_errors(path: Path, kernel_name: str, demo: Any) -> None:
    nb = demo if path == DEMO else _execute(nbformat.read(path, as_version=4), kernel_name,
                                            path.parent)
    for cell in nb.cells:
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", []):
            assert not _errors(cell), (cell.source, _errors(cell))


def test_sack_example_passes_and_shows_figures(demo: Any) -> None:
    data = _data(_tagged(demo, "seed-sack"))
    assert data["text/plain"].startswith("PASS cell")
    assert any(mime in data for mime in IMAGES)
    assert "drillbook-verdict" in data["text/html"]


def test_handshake_passes_and_underscore_holds_the_result(demo: Any) -> None:
    assert _data(_tagged(demo, "seed-handshake"))["text/plain"].startswith("PASS cell")
    after = demo.cells[demo.cells.index(_tagged(demo, "seed-handshake")) + 1]
    assert _data(after)["text/plain"].startswith("(True, ")


def test_article_version_fails_with_packetdrills_message(demo: Any) -> None:
    data = _data(_tagged(demo, "seed-sack-as-printed"))
    assert data["text/plain"].startswith("FAIL cell:")
    assert "ipv4_total_length" in data["text/plain"]
    assert "actual packet:" in data["text/plain"]


def test_tweak_shows_widgets(demo: Any) -> None:
    assert WIDGET_VIEW in _data(_tagged(demo, "tweak"))


def test_explore_offers_a_rewritten_script(demo: Any) -> None:
    data = _data(_tagged(demo, "explore"))
    assert data["text/plain"].startswith("EXPLORE cell")
    assert "rewritten_script" in data["text/html"]


def test_syntax_error_shows_line_and_caret_without_traceback(demo: Any) -> None:
    (error,) = _errors(_tagged(demo, "syntax-error"))
    text = "\n".join(error.traceback)
    assert "cell:4:" in text and "^" in text
    assert "Traceback" not in text and ".py" not in text


def test_acceptance_cells(kernel_name: str, tmp_path: Path) -> None:
    """The acceptance list: SACK passes with figures; `_` holds the result; --tweak gives
    widgets; a syntax error on line 4 fails the cell, names line 4, shows no traceback."""
    demo_nb = nbformat.read(DEMO, as_version=4)
    sack = _tagged(demo_nb, "seed-sack").source.split("\n", 1)[1]
    lines = sack.splitlines()
    lines[3] = lines[3] + " )"  # a syntax error on line 4
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext drillbook\n%config Drill.tolerance_usecs = 10000"),
        nbformat.v4.new_code_cell("%%drill\n" + sack),
        nbformat.v4.new_code_cell("_.passed"),
        nbformat.v4.new_code_cell("%%drill --tweak --no-figures\n" + sack),
        nbformat.v4.new_code_cell("%%drill\n" + "\n".join(lines)),
        nbformat.v4.new_code_cell("'not reached'"),
    ]
    with pytest.raises(CellExecutionError) as caught:
        _execute(nb, kernel_name, tmp_path)
    assert any(mime in _data(nb.cells[1]) for mime in IMAGES)
    assert _data(nb.cells[1])["text/plain"].startswith("PASS")
    assert _data(nb.cells[2])["text/plain"] == "True"
    assert WIDGET_VIEW in _data(nb.cells[3])
    (error,) = _errors(nb.cells[4])
    rendered = "\n".join(error.traceback)
    assert rendered.startswith("cell:4:")
    assert "Traceback" not in rendered and "File " not in rendered
    assert "cell:4:" in str(caught.value)
    assert not nb.cells[5].outputs  # Run All stopped at the failing cell
