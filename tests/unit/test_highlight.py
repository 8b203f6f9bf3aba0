"""packetdrill highlighting: the Pygments lexer on real scripts, its vocabulary, its registration,
and nbconvert (plain ``jupyter nbconvert`` and ``drillbook export``) colouring ``%%drill`` cells."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Whitespace, _TokenType

from drillbook.highlight.nbconvert import HIGHLIGHT_MAGICS_CONFIG
from drillbook.highlight.pygments_lexer import PacketdrillLexer
from drillbook.highlight.vocabulary import (
    PACKET_WORDS,
    STRUCT_WORDS,
    TCP_OPTION_WORDS,
    TOKEN,
    Kind,
    vocabulary_json,
)
from drillbook.lessons.export import lesson_html
from drillbook.parser.lexer import KEYWORDS

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("DRILLBOOK_CORPUS", PROJECT.parent / "shared" / "corpus"))
LABEXTENSION = PROJECT / "labextension"

CELL = """%%drill --tolerance_usecs=10000
--mtu=1500
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0  > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
+.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 7>
/* a C comment */
+0...0.2 read(3, ..., 1000) = 1000
+0  `sysctl -q net.ipv4.tcp_sack=1`
+0  %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
// EDIT ME
"""


def _tokens(text: str) -> list[tuple[_TokenType, str]]:
    return [(token, value) for token, value in PacketdrillLexer().get_tokens(text)
            if token not in Whitespace]


_BY_TOKEN = {token: kind for kind, token in TOKEN.items()}


def _kind(token: _TokenType) -> Kind | None:
    """The kind of the nearest of ``token`` and its parents that has one."""
    while token is not None:
        if token in _BY_TOKEN:
            return _BY_TOKEN[token]
        token = token.parent
    return None


def _kinds(text: str) -> dict[str, set[Kind | None]]:
    """The kinds each piece of text was given, wherever it occurs."""
    kinds: dict[str, set[Kind | None]] = {}
    for token, value in _tokens(text):
        kinds.setdefault(value, set()).add(_kind(token))
    return kinds


def test_a_drill_cell_is_coloured_by_kind() -> None:
    kinds = _kinds(CELL)
    expected = {
        Kind.MAGIC: ["%%drill"],
        Kind.OPTION: ["--tolerance_usecs", "--mtu"],
        Kind.COMMENT: ["// EDIT ME", "/* a C comment */"],
        Kind.TIME: ["0", "+0", "+.1", "0.2"],
        Kind.DIRECTION: ["<", ">"],
        Kind.FLAGS: ["S", "S."],
        Kind.FIELD: ["ack", "win"],
        Kind.TCP_OPTION: ["mss", "sackOK", "TS", "val", "ecr", "nop", "wscale"],
        Kind.SYSCALL: ["socket", "setsockopt", "connect", "read"],
        Kind.CONSTANT: ["SOCK_STREAM", "SOL_SOCKET"],
        Kind.ERRNO: ["EINPROGRESS"],
        Kind.NOTE: ["(Operation now in progress)"],
        Kind.CODE: ["%{", "}%"],
        Kind.SHELL: ["`"],
        Kind.NUMBER: ["1460", "5792"],
    }
    for kind, pieces in expected.items():
        for piece in pieces:
            assert kind in kinds[piece], (piece, kinds[piece])
    # `...` is a placeholder and `// EDIT ME` a comment, never anything else (issue #13).
    assert kinds["..."] == {Kind.PUNCTUATION}
    assert kinds["// EDIT ME"] == {Kind.COMMENT}
    assert kinds["S."] == {Kind.FLAGS} and kinds["EINPROGRESS"] == {Kind.ERRNO}


def test_a_code_block_is_python_and_a_command_is_shell() -> None:
    tokens = dict((value, token) for token, value in _tokens(CELL))
    assert str(tokens["assert"]).startswith("Token.Keyword")
    assert str(tokens["=="]).startswith("Token.Operator")
    assert str(tokens["sysctl"]).startswith("Token.Text")


def _corpus_scripts() -> list[Path]:
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS} (set DRILLBOOK_CORPUS)")
    return sorted(CORPUS.rglob("*.pkt"))


def test_the_corpus_lexes_without_error_and_uses_every_script_kind() -> None:
    scripts = _corpus_scripts()
    seen: Counter[Kind] = Counter()
    errors = []
    for path in scripts:
        for token, value in PacketdrillLexer().get_tokens(path.read_text()):
            if token in Error:
                errors.append(f"{path.relative_to(CORPUS)}: {value!r}")
            kind = _kind(token)
            if kind is not None:
                seen[kind] += 1
    assert errors == []
    assert len(scripts) >= 150
    assert set(Kind) - set(seen) == {Kind.MAGIC}  # no cell magic in a .pkt file
    # Every script has times, most have packets and syscalls.
    assert seen[Kind.TIME] > 3000 and seen[Kind.DIRECTION] > 1500 and seen[Kind.SYSCALL] > 1000


def _drill_cells() -> list[str]:
    cells = []
    for path in sorted([*PROJECT.glob("labs/*.ipynb"), *PROJECT.glob("notebooks/*.ipynb")]):
        notebook = nbformat.read(str(path), as_version=4)
        cells += [cell.source for cell in notebook.cells
                  if cell.cell_type == "code" and cell.source.startswith("%%drill")]
    return cells


def test_the_labs_drill_cells_lex_without_error() -> None:
    cells = _drill_cells()
    assert len(cells) >= 20
    for source in cells:
        tokens = _tokens(source)
        assert [value for token, value in tokens if token in Error] == [], source
        assert tokens[0] == (TOKEN[Kind.MAGIC], "%%drill")


def test_the_vocabulary_places_every_keyword_of_the_parser() -> None:
    placed = {*PACKET_WORDS, *TCP_OPTION_WORDS, *STRUCT_WORDS}
    assert set(KEYWORDS) - placed == set()


def test_the_extension_reads_the_current_vocabulary() -> None:
    committed = (LABEXTENSION / "src" / "vocabulary.json").read_text()
    assert json.loads(committed) == json.loads(vocabulary_json()), (
        "run: cd labextension && npm run vocabulary && npm run build")


def test_the_shipped_extension_was_built_from_the_committed_source() -> None:
    """The build records a digest of its sources (labextension/scripts/digest.js)."""
    digest = hashlib.sha256()
    for path in sorted((LABEXTENSION / "src").iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    built = PROJECT / "drillbook" / "labextension"
    assert (built / "source-digest.txt").read_text().strip() == digest.hexdigest(), (
        "rebuild the extension: cd labextension && npm run build")
    metadata = json.loads((built / "package.json").read_text())
    assert (built / metadata["jupyterlab"]["_build"]["load"]).exists()
    assert json.loads((built / "install.json").read_text())["packageName"] == "drillbook"


def test_pygments_finds_the_lexer_through_its_entry_point() -> None:
    assert isinstance(get_lexer_by_name("packetdrill"), PacketdrillLexer)
    assert isinstance(get_lexer_for_filename("handshake.pkt"), PacketdrillLexer)


def _notebook(tmp_path: Path) -> Path:
    path = tmp_path / "cell.ipynb"
    notebook = new_notebook(cells=[new_code_cell("%load_ext drillbook"), new_code_cell(CELL)])
    notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    nbformat.write(notebook, str(path))
    return path


def _coloured(page: str) -> set[str]:
    return set(re.findall(r'<span class="([^"]+)">', page))


def test_plain_nbconvert_colours_drill_cells(tmp_path: Path) -> None:
    """``jupyter nbconvert`` with no option reads the setting the package installs."""
    path = _notebook(tmp_path)
    environment = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "no-user-config")}
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(path)], check=True,
                   capture_output=True, env=environment, timeout=120)
    classes = _coloured((tmp_path / "cell.html").read_text())
    assert {"k k-Direction", "nf nf-Syscall", "c1", "no no-Flags", "m m-Time", "ne"} <= classes


def test_the_installed_nbconvert_setting_is_drillbooks() -> None:
    shipped = PROJECT / "drillbook" / "highlight" / "jupyter_nbconvert_config.json"
    assert json.loads(shipped.read_text()) == HIGHLIGHT_MAGICS_CONFIG
    installed = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_nbconvert_config.json"
    assert json.loads(installed.read_text()) == HIGHLIGHT_MAGICS_CONFIG


def test_a_lesson_colours_drill_cells_like_jupyterlab(tmp_path: Path) -> None:
    notebook = nbformat.read(str(_notebook(tmp_path)), as_version=4)
    # as the labs are committed: no kernel has filled in language_info
    notebook.metadata["language_info"] = {"name": "python"}
    page = lesson_html(notebook, title="Lab 0")
    assert {"k k-Direction", "nf nf-Syscall", "c1", "nt", "cp"} <= _coloured(page)
    assert ".highlight .k-Direction { color: var(--jp-mirror-editor-keyword-color)" in page


def test_the_server_extension_adds_the_mapping_and_keeps_the_users() -> None:
    from types import SimpleNamespace

    from traitlets.config import Config

    from drillbook.highlight.server import _load_jupyter_server_extension

    app = SimpleNamespace(config=Config())
    _load_jupyter_server_extension(app)
    assert app.config.HighlightMagicsPreprocessor.languages == {"%%drill": "packetdrill"}
    own = {"%%drill": "text", "%%sql": "sql"}
    app = SimpleNamespace(config=Config({"HighlightMagicsPreprocessor": {"languages": own}}))
    _load_jupyter_server_extension(app)
    assert app.config.HighlightMagicsPreprocessor.languages == own
    enabling = PROJECT / "drillbook" / "highlight" / "jupyter_server_config.d" / "drillbook.json"
    assert json.loads(enabling.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"drillbook.highlight.server": True}}}
