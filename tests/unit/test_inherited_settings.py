"""The host TCP settings a new namespace starts with, as the suite reports them."""

from __future__ import annotations

from pathlib import Path

from drillbook.suite.inherited import inherited_tcp_settings


def test_the_settings_are_read_and_whitespace_normalised(tmp_path: Path) -> None:
    (tmp_path / "tcp_congestion_control").write_text("bbr\n")
    (tmp_path / "tcp_allowed_congestion_control").write_text("reno bbr\n")
    (tmp_path / "tcp_rmem").write_text("4096\t131072\t33554432\n")
    (tmp_path / "tcp_wmem").write_text("4096\t16384\t4194304\n")
    settings = inherited_tcp_settings(tmp_path)
    assert settings.congestion_control == "bbr"
    assert settings.rmem == "4096 131072 33554432"
    assert settings.describe() == (
        "namespaces start with: congestion control bbr (allowed: reno bbr), "
        "tcp_rmem 4096 131072 33554432, tcp_wmem 4096 16384 4194304")


def test_an_unreadable_setting_is_unknown_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "tcp_congestion_control").write_text("cubic\n")
    settings = inherited_tcp_settings(tmp_path)
    assert (settings.congestion_control, settings.allowed_congestion_control) == (
        "cubic", "unknown")
