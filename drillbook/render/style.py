"""One palette and one set of fonts for every drillbook figure.

Colours follow the Okabe-Ito colour-blind-safe palette. Their *meanings* follow the tools
students already know (teaching anchors §4.2-4.3): tcptrace draws ACKs green, the receive
window yellow, SACK purple and retransmissions red; Wireshark sets the newest SACK block apart
from the older ones. A colour means the same thing in every drillbook figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes


@dataclass(frozen=True)
class Palette:
    """Colour per meaning (hex strings, usable anywhere matplotlib takes a colour)."""

    inbound: str = "#0072B2"  # `<` packets: injected by the remote peer (TUN)
    outbound: str = "#CC7700"  # `>` packets: sent by the local kernel
    syscall: str = "#F2F2F2"  # syscall boxes
    syscall_edge: str = "#555555"
    error: str = "#D62728"  # a mismatch, a failed syscall, a retransmission (tcptrace's red R)
    ghost: str = "#8C8C8C"  # what the script expected, when the kernel did something else
    unexpected: str = "#CC79A7"  # a packet no script line accounted for
    not_run: str = "#BDBDBD"  # events after the first fatal failure
    ack: str = "#009E73"  # cumulative ACK (tcptrace: green)
    window: str = "#A6761D"  # advertised receive window (tcptrace's yellow, darkened)
    sack_newest: str = "#6A3D9A"  # RFC 2018 §4: the first block reports the newest segment
    sack_older: str = "#CAB2D6"
    cwnd: str = "#222222"
    ssthresh: str = "#D62728"
    gap_band: str = "#EEF3F8"
    text: str = "#222222"
    muted: str = "#666666"
    explain: str = "#5E35B1"  # the kernel's own explanations (cause=, reason=)


@dataclass(frozen=True)
class Fonts:
    """Font families and sizes (points) used by the drawers."""

    mono: str = "DejaVu Sans Mono"  # packetdrill notation keeps its columns
    sans: str = "DejaVu Sans"
    # Shown at its drawn size, a point is 4/3 CSS px: 8.25 pt is 11.0 px, just above
    # JupyterLab's own small text (--jp-ui-font-size0, 10.8 px), so no label is smaller than
    # the notebook's. (Larger labels would no longer fit the sequence diagram's columns: a SYN
    # with all its options is about 80 characters between the two lifelines.)
    label: float = 8.5
    small: float = 8.25
    title: float = 11.0


PALETTE = Palette()
FONTS = Fonts()

# The kernel's "infinite" slow-start threshold (TCP_INFINITE_SSTHRESH in include/net/tcp.h):
# TCP_INFO reports it until the first loss, and plotting it verbatim would flatten every other
# line, so the window plot clips it.
INFINITE_SSTHRESH = 0x7FFFFFFF


def placeholder(ax: Axes, message: str, title: str) -> None:
    """An empty panel that says why it is empty (rather than blank axes with 0..1 ticks)."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
            color=PALETTE.muted, fontsize=FONTS.label)
    ax.set_title(title, loc="left", fontsize=FONTS.title)
    ax.set_axis_off()
