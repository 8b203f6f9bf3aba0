"""What the labs say about Linux holds on this kernel (issue #14).

Where a lab corrects a simplification, the ``%%drill`` cell that shows the real behaviour must
be there, must not be an exercise, and must pass when the lab is executed. Static checks keep
the claims that were wrong from coming back: congestion-control statements name the algorithm
the scripts run under, and a TCP_INFO assertion about cwnd or ssthresh sits in a script that
sets its congestion control.
"""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pytest
from kernel_support import missing_privilege
from lab_exports import LABS, exported_labs

kernel_only = pytest.mark.skipif(missing_privilege() is not None, reason=str(missing_privilege()))

# lab -> {result name of the %%drill cell: (a line its script must contain, what it shows)}
SHOWN: dict[str, dict[str, tuple[str, str]]] = {
    "01-handshake-teardown": {
        "fin_after_data": ("+.04 > . 1:1(0) ack 12", "after data, the ACK of a FIN is delayed"),
    },
    "02-sack-out-of-order": {
        "compressed": ("TCP_QUICKACK, [0]", "back-to-back out-of-order segments: SACKs compressed"),
    },
    "03-rto-backoff": {
        "tlp": ("sackOK", "with SACK a tail loss probe comes first, the RTO is not doubled"),
        "syn_linear": ("> S 0:0(0)", "linear SYN timeouts by default (since Linux 6.5)"),
    },
    "04-fast-retransmit": {
        "fr": ("tcp_congestion_control=reno", "three SACKs: RACK marks the loss at once; PRR"),
        "rack": ("+.025~+.045 > . 1:1001(1000)", "two SACKs: RACK waits min_rtt/4"),
        "probe": ("+.2~+.23 > P. 3001:4001(1000)", "no SACK: a tail loss probe at ~0.2 s"),
    },
    "06-nagle-delayed-ack": {
        "delack": ("TCP_QUICKACK, [0]", "TCP_QUICKACK 0 does not stick"),
        "delack_grows": ("+.08 > . 1:1(0) ack 18001", "the delayed ACK grows past 40 ms"),
        "back_to_back": ("TCP_NODELAY", "back-to-back writes with TCP_NODELAY on this device"),
    },
    "07-slow-start-cwnd": {
        "iw_jumbo": ("> P. 1:40001(40000)", "10 segments whatever the MSS"),
    },
    "08-reset-half-close-time-wait": {
        "half": ("timewait,", "TIME_WAIT is Linux's fixed 60 s"),
        "refused": ("[ECONNREFUSED]", "a reset in SYN-SENT: ECONNREFUSED"),
        "reset_after_fin": ("[EPIPE]", "a reset in CLOSE-WAIT: EPIPE"),
        "challenge": ("< R. 501:501(0)", "an in-window RST not at RCV.NXT: challenge ACK"),
    },
}

_OUT = re.compile(r"^%%drill\b.*--out[ =](\w+)")


def _lab(stem: str) -> Any:
    path = next(p for p in LABS if p.stem == stem)
    return nbformat.read(str(path), as_version=4)


def _drill_cells(notebook: Any) -> dict[str, Any]:
    """The %%drill cells by result name; an exercise's handed-out cell and its solution share
    one, so the solution (the later cell) wins."""
    cells: dict[str, Any] = {}
    for cell in notebook.cells:
        found = _OUT.match(cell.source) if cell.cell_type == "code" else None
        if found:
            cells[found.group(1)] = cell
    return cells


def _markdown(notebook: Any) -> list[str]:
    return [c.source for c in notebook.cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("stem", sorted(SHOWN))
def test_each_corrected_behaviour_has_its_demonstration(stem: str) -> None:
    cells = _drill_cells(_lab(stem))
    for name, (line, what) in SHOWN[stem].items():
        assert name in cells, f"{stem}: no %%drill --out {name} ({what})"
        source = cells[name].source
        assert "EDIT ME" not in source, f"{stem}: {name} must be a demonstration, not an exercise"
        assert line in source, f"{stem}: {name} no longer shows {what} ({line!r})"


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_congestion_control_claims_name_the_algorithm_in_force(path: Any) -> None:
    notebook = nbformat.read(str(path), as_version=4)
    for text in _markdown(notebook):
        if "PRR" in text or "RFC 6937" in text:
            assert "reno" in text and "BBR" in text, f"PRR named without reno/BBR: {text[:200]}"
    for cell in _drill_cells(notebook).values():
        if re.search(r"%\{[^}]*tcpi_snd_(cwnd|ssthresh)", cell.source):
            assert "tcp_congestion_control=" in cell.source, (
                f"a cwnd/ssthresh assertion under the host's default algorithm:\n{cell.source}"
            )


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_no_lab_calls_forty_ms_linux_s_fixed_delay(path: Any) -> None:
    for text in _markdown(nbformat.read(str(path), as_version=4)):
        for sentence in re.split(r"(?<=[.;])\s", text):
            if re.search(r"\b40 ms\b", sentence) and "delay" in sentence.lower():
                allowed = r"minimum|at first|initial|first delayed|TCP_ATO_MIN|starts|past|grows"
                assert re.search(allowed, sentence), f"40 ms as the delayed-ACK time: {sentence!r}"


@pytest.mark.kernel
@kernel_only
@pytest.mark.parametrize("stem", sorted(SHOWN))
def test_each_demonstration_passes_on_this_kernel(stem: str) -> None:
    exports = exported_labs()
    assert exports.status == 0, exports.stderr
    cells = _drill_cells(exports.executed[stem])
    for name, (_, what) in SHOWN[stem].items():
        verdicts = [
            str(o.get("data", {}).get("text/plain", "")) for o in cells[name].get("outputs", ())
        ]
        assert any(v.startswith("PASS") for v in verdicts), f"{stem}: {name} ({what}): {verdicts}"
