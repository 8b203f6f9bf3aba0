"""drillbook.runtime.sandbox.userns: the pure parts (maps, capability parsing, refusal wording)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from drillbook.runtime.sandbox import userns


def test_maps_make_the_caller_root_inside() -> None:
    maps = userns.IdMaps(uid=1000, gid=1001)
    assert (maps.uid_map, maps.gid_map) == ("0 1000 1\n", "0 1001 1\n")


def test_effective_capabilities_are_read_from_status(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000201000\n")
    caps = userns.effective_capabilities(str(status))
    assert caps >> userns.CAP_NET_ADMIN & 1 and caps >> userns.CAP_SYS_ADMIN & 1
    status.write_text("Name:\tx\n")
    assert userns.effective_capabilities(str(status)) == 0


def test_root_needs_no_user_namespace() -> None:
    if os.geteuid() == 0:
        assert userns.is_privileged()


def test_refusals_are_worded_with_what_is_missing() -> None:
    assert "user.max_user_namespaces" in userns._unshare_reason(errno.ENOSPC)
    assert "multi-threaded" in userns._unshare_reason(errno.EINVAL)
    text = userns._unprivileged_error(["/dev/net/tun does not exist"]).render()
    assert "without root here: /dev/net/tun does not exist." in text
    assert text.endswith("Run as root (sudo), or fix the above.")
