"""Notebooks open unmodified: their kernelspec and language_info are what the kernel reports.

JupyterLab writes the kernel's ``kernelspec`` and ``language_info`` into a notebook's metadata
when the kernel connects; where they differ from the file, a notebook a student only opened
shows as modified (and asks to be saved on close). The browser test sees the symptom
(tests/browser/test_notebooks_in_lab.py); this test names the field that differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ipykernel.ipkernel import IPythonKernel

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(
    p for folder in ("notebooks", "labs", "course/source")
    for p in (ROOT / folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_metadata_is_what_the_kernel_reports(path: Path) -> None:
    metadata = json.loads(path.read_text())["metadata"]
    assert metadata.get("kernelspec") == KERNELSPEC
    assert metadata.get("language_info") == IPythonKernel.language_info, (
        "language_info differs from this Python's kernel: JupyterLab would rewrite it on open")
