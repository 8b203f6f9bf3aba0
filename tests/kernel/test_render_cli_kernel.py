"""Figures of real runs: the seed examples against the running kernel, drawn and checked
against their own traces, and ``drillbook render`` writing SVG and PNG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kernel_support import KERNEL_MARKS
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from seed_scripts import HANDSHAKE, SACK

from drillbook.commands.render import main
from drillbook.render import PALETTE, draw_sack, draw_sequence, draw_time_sequence
from drillbook.render.events import PacketStatus, unexpected_packets
from drillbook.trace.model import Direction, StepKind, Trace
from drillbook.trace.report import text_report

pytestmark = KERNEL_MARKS




def run(text: str, path: Path) -> Trace:
    from drillbook.options import build_config
    from drillbook.parser import parse_script
    from drillbook.runtime.api import run_script

    path.write_text(text)
    config = build_config((), [])
    script = parse_script(text, path=str(path), config=config)
    return run_script(script, build_config(tuple(script.options), []))


@pytest.fixture(scope="module")
def sack_run(tmp_path_factory: pytest.TempPathFactory) -> Trace:
    return run(SACK, tmp_path_factory.mktemp("sack") / "sack.pkt")


@pytest.fixture(scope="module")
def handshake_run(tmp_path_factory: pytest.TempPathFactory) -> Trace:
    return run(HANDSHAKE, tmp_path_factory.mktemp("hs") / "handshake.pkt")


def axes() -> object:
    return Figure(figsize=(13, 8)).add_axes((0, 0, 1, 1))


@pytest.mark.parametrize("which", ["sack_run", "handshake_run"])
def test_sequence_arrows_match_the_real_trace(which: str,
                                              request: pytest.FixtureRequest) -> None:
    trace: Trace = request.getfixturevalue(which)
    art = draw_sequence(axes(), trace)  # type: ignore[arg-type]
    packet_steps = [s for s in trace.steps if s.kind in (StepKind.INBOUND, StepKind.OUTBOUND)]
    assert packet_steps, text_report(trace)
    assert len(art.arrows) == len(packet_steps) + len(unexpected_packets(trace))
    for arrow in art.arrows:
        assert arrow.label.get_text() == arrow.packet.summary
    if trace.failure is not None:  # whatever the kernel did, the failing line is drawn
        failing = [a for a in art.arrows if a.status is not PacketStatus.OK
                   and a.status is not PacketStatus.NOT_RUN]
        boxes = [b for b in art.boxes if "✗" in b.get_text()]
        assert failing or boxes or art.marks, trace.failure.render()


def test_sack_bars_match_the_real_kernel_blocks(sack_run: Trace) -> None:
    art = draw_sack(axes(), sack_run)  # type: ignore[arg-type]
    kernel_blocks = [b for p in sack_run.packets if p.direction is Direction.OUTBOUND
                     for b in p.sack_blocks]
    assert kernel_blocks, text_report(sack_run)
    assert [bar.block for bar in art.blocks] == kernel_blocks
    for bar in art.blocks:
        assert (bar.patch.get_x(), bar.patch.get_x() + bar.patch.get_width()) == bar.block
        wanted = PALETTE.sack_newest if bar.newest else PALETTE.sack_older
        assert to_hex(bar.patch.get_facecolor()) == wanted.lower()


def test_time_sequence_of_the_real_sack_run(sack_run: Trace) -> None:
    art = draw_time_sequence(axes(), sack_run)  # type: ignore[arg-type]
    assert art.direction is Direction.INBOUND
    inbound_data = [p for p in sack_run.packets
                    if p.direction is Direction.INBOUND and p.payload_len > 0]
    assert [b.packet for b in art.segments] == inbound_data


def test_render_cli_svg_then_png_from_saved_trace(tmp_path: Path) -> None:
    script = tmp_path / "handshake.pkt"
    script.write_text(HANDSHAKE)
    svg, saved, png = tmp_path / "hs.svg", tmp_path / "hs.json", tmp_path / "hs.png"
    done = subprocess.run(
        [sys.executable, "-m", "drillbook", "render", str(script), "--out", str(svg),
         "--save-trace", str(saved), "--kind", "sequence", "--tolerance_usecs=50000"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: the kernel disagreed; still drawn
    assert f"wrote {svg}" in done.stdout
    assert b"<svg" in svg.read_bytes()[:500]
    again = main(["--trace", str(saved), "--out", str(png), "--kind", "all"])
    assert again == done.returncode
    if done.returncode == 1:  # a packetdrill flag must have reached the run: 50 ms tolerance
        assert "timing error" not in done.stderr or "0.050000 sec" in done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
