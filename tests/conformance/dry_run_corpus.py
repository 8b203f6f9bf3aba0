"""The corpus's script/IP-mode pairs and the flags upstream's run_all.py gives each mode."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from drillbook.config import UPSTREAM_COMMON_FLAGS, UPSTREAM_MODE_FLAGS, IpMode


@dataclass(frozen=True)
class CorpusRun:
    path: str  # relative to gtests-net/
    mode: IpMode
    verdict: str
    first_error: str

    @property
    def rejected_at_parse(self) -> bool:
        return "parse error" in self.first_error or "semantic error" in self.first_error

    @property
    def expected_line(self) -> int:
        return int(self.first_error.split(":")[1])

    def flags(self) -> list[str]:
        return [*UPSTREAM_MODE_FLAGS[self.mode], *UPSTREAM_COMMON_FLAGS, "--dry_run"]


def mode_applies(path: str, mode: IpMode) -> bool:
    """run_all.py's rule: ``*v6.pkt`` skips the ipv4 modes, ``*v4.pkt`` skips ipv6."""
    if path.endswith("v6.pkt"):
        return mode is IpMode.IPV6
    if path.endswith("v4.pkt"):
        return mode is not IpMode.IPV6
    return True


def corpus_runs(corpus: Path) -> list[CorpusRun]:
    with (corpus / "expected.tsv").open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        CorpusRun(row["path"], IpMode(row["ip_mode"]), row["verdict"], row["first_error"])
        for row in rows
    ]
