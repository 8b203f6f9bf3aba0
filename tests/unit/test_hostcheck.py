"""HostState.capture and diff: what a snapshot holds and how differences read."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace

from drillbook.runtime.workers.hostcheck import HostState, diff


def test_capture_sees_this_host() -> None:
    state = HostState.capture()
    assert "lo" in state.links
    assert os.stat("/proc/self/ns/net").st_ino in state.netns_inodes
    assert any(name.startswith("net.ipv4.tcp_") for name, _ in state.sysctls)


def test_two_captures_without_change_do_not_differ() -> None:
    # Only what other people's concurrent runs cannot change: links, names, sysctls.
    first, second = HostState.capture(), HostState.capture()
    assert diff(first, first) == []
    assert (first.links, first.netns_names, first.sysctls) == (
        second.links, second.netns_names, second.sysctls)


def test_a_child_process_shows_as_a_descendant() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        state = HostState.capture()
        assert child.pid in state.descendant_pids
    finally:
        child.kill()
        child.wait()


def test_new_tmp_file_is_reported(tmp_path: object) -> None:
    folder = str(tmp_path)
    before = HostState.capture(tmp_dir=folder)
    open(os.path.join(folder, "left-behind"), "w").close()
    after = replace(before, tmp_files=HostState.capture(tmp_dir=folder).tmp_files)
    assert diff(before, after) == ["new file in /tmp: left-behind"]


def test_diff_wording() -> None:
    before = HostState.capture()
    after = replace(
        before,
        links=before.links | {"tun0"},
        sysctls=(("net.ipv4.tcp_sack", "0"),),
    )
    lines = diff(before, after)
    assert "new link: tun0" in lines
    sack = dict(before.sysctls).get("net.ipv4.tcp_sack")
    assert f"sysctl net.ipv4.tcp_sack: {sack!r} -> '0'" in lines
