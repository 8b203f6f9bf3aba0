"""The classroom's decisions, without a hub: what the host lacks, which cgroup files get which
limits, which lab cells a simulated student runs and how its outputs are judged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drillbook.classroom import launch
from drillbook.classroom.accounts import AccountError, check_name
from drillbook.classroom.host import HostFacts, ProcessView, Severity, needs
from drillbook.classroom.labcells import Answers, cells_to_run, judge
from drillbook.classroom.limits import CgroupLayout, StudentLimits, limit_files, parse_layout

V1_MOUNTS = """\
proc /proc proc rw,relatime 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
V1_OWN = "8:pids:/\n4:memory:/box/7\n1:cpu:/\n0::/\n"
ALL = CgroupLayout("v1", {"pids": "/p", "memory": "/m", "cpu": "/c"})


def test_a_ready_host_needs_nothing_and_no_hidepid() -> None:
    assert needs(HostFacts(tun_mode=0o666, cgroups=ALL, process_view=ProcessView.PRIVATE)) == []
    advice = needs(HostFacts(tun_mode=0o666, cgroups=ALL))  # not root: not tried
    assert [n.severity for n in advice] == [Severity.ADVICE]
    assert "as root" in advice[0].fix


def test_no_pid_namespace_for_servers_is_missing_and_says_why() -> None:
    (need,) = needs(HostFacts(tun_mode=0o666, cgroups=ALL,
                              process_view=ProcessView.UNAVAILABLE,
                              process_view_error="unshare: Operation not permitted"))
    assert need.severity is Severity.REQUIRED and not need.make_fixes
    assert "(unshare: Operation not permitted)" in need.what
    assert "CAP_SYS_ADMIN" in need.fix and "hidepid=invisible" in need.fix


def test_private_processes_off_asks_for_hidepid_on_the_hosts_proc() -> None:
    (need,) = needs(HostFacts(tun_mode=0o666, cgroups=ALL, process_view=ProcessView.OFF))
    assert need.severity is Severity.DEGRADED
    assert need.fix.startswith("mount -o remount,hidepid=invisible /proc")
    assert needs(HostFacts(tun_mode=0o666, cgroups=ALL, process_view=ProcessView.OFF,
                           proc_hidepid=True)) == []


def test_a_missing_nbgrader_exchange_limits_the_assignment_list() -> None:
    ready = dict(tun_mode=0o666, cgroups=ALL, process_view=ProcessView.PRIVATE)
    (need,) = needs(HostFacts(**ready, exchange="/srv/nbgrader/exchange"))
    assert need.severity is Severity.DEGRADED and "does not exist" in need.what
    assert need.fix.startswith("mkdir -p /srv/nbgrader/exchange && chmod ugo+rwx")
    (need,) = needs(HostFacts(**ready, exchange="/srv/nbgrader/exchange", exchange_mode=0o755))
    assert "mode 0755" in need.what
    assert needs(HostFacts(**ready, exchange="/x", exchange_mode=0o1777)) == []
    assert needs(HostFacts(**ready, exchange="")) == []  # a site config sets it


def test_a_private_tun_device_is_missing_and_make_fixes_it() -> None:
    (need,) = needs(HostFacts(tun_mode=0o600, cgroups=ALL, process_view=ProcessView.PRIVATE))
    assert need.severity is Severity.REQUIRED and need.make_fixes
    assert need.fix == "chmod 0666 /dev/net/tun"
    assert "mode 0600" in need.render()


def test_forbidden_user_namespaces_name_the_sysctl_to_change() -> None:
    facts = HostFacts(tun_mode=None, cgroups=ALL, process_view=ProcessView.PRIVATE,
                      knobs={"/proc/sys/kernel/unprivileged_userns_clone": "0",
                             "/proc/sys/user/max_user_namespaces": "96367"})
    found = needs(facts)
    assert [n.severity for n in found] == [Severity.REQUIRED, Severity.REQUIRED]
    assert "does not exist" in found[0].what and "modprobe tun" in found[0].fix
    assert "kernel.unprivileged_userns_clone = 0" in found[1].what
    assert found[1].fix == "sysctl -w kernel.unprivileged_userns_clone=1"


def test_missing_cgroups_degrade_the_limits() -> None:
    (need,) = needs(HostFacts(tun_mode=0o666, process_view=ProcessView.PRIVATE,
                              cgroups=CgroupLayout("v1", {"pids": "/p"})))
    assert need.severity is Severity.DEGRADED
    assert "memory, cpu" in need.what


def test_v1_layout_nests_under_the_hubs_own_groups() -> None:
    layout = parse_layout(V1_MOUNTS, V1_OWN)
    assert layout.version == "v1"
    assert layout.paths == {"cpu": "/sys/fs/cgroup/cpu/drillbook-hub",
                            "memory": "/sys/fs/cgroup/memory/box/7/drillbook-hub",
                            "pids": "/sys/fs/cgroup/pids/drillbook-hub"}


def test_v2_wins_where_its_controllers_are_enabled() -> None:
    mounts = "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
    layout = parse_layout(mounts, "0::/hub.slice\n",
                          read=lambda path: "cpu memory pids io\n")
    assert layout == CgroupLayout("v2", {n: "/sys/fs/cgroup/hub.slice/drillbook-hub"
                                         for n in ("pids", "memory", "cpu")})
    assert parse_layout(mounts, "0::/\n", read=lambda path: "") == CgroupLayout()


def test_unwritable_groups_are_not_used() -> None:
    assert parse_layout(V1_MOUNTS, V1_OWN, usable=lambda path: False) == CgroupLayout()


def test_limit_files_per_cgroup_version() -> None:
    limits = StudentLimits(max_processes=300, memory_bytes=1 << 30, cpu_cores=1.5,
                           cpu_weight=50)
    assert limit_files("v1", limits) == {
        "pids": [("pids.max", "300")],
        "memory": [("memory.limit_in_bytes", str(1 << 30))],
        "cpu": [("cpu.shares", "512"), ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "150000")]}
    v2 = limit_files("v2", limits)
    assert v2["cpu"] == [("cpu.weight", "50"), ("cpu.max", "150000 100000")]
    assert v2["memory"][0] == ("memory.max", str(1 << 30))


def test_limits_too_small_for_a_server_are_refused() -> None:
    with pytest.raises(ValueError, match="a Jupyter server alone"):
        StudentLimits(max_processes=4)
    with pytest.raises(ValueError, match="needs ~200 MB"):
        StudentLimits(memory_bytes=1 << 20)


@pytest.mark.parametrize("name", ["root2", "alice", "_svc", "ab-c_1"])
def test_plain_unix_names_are_accepted(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize("name", ["Alice", "a@uni.edu", "../etc", "", "1abc", "x" * 40])
def test_other_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(AccountError, match="not a valid Unix user name"):
        check_name(name)


def _cell(source: str, tags: tuple[str, ...] = (), **nbgrader: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"tags": list(tags)}
    if nbgrader:
        metadata["nbgrader"] = nbgrader
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": []}


LAB = {"cells": [
    {"cell_type": "markdown", "source": "# Lab", "metadata": {}},
    _cell("%load_ext drillbook"),
    _cell("%%drill --out run\n0 socket(...) = 3"),
    _cell("answer = None"),
    _cell("answer = 7", tags=("solution",)),
    _cell("labkit.check_packet(run, line=1, field='ack', expected=answer)"),
    _cell("%%drill\n0 socket(...) = 3  // EDIT ME"),
]}


def test_unanswered_students_skip_solution_cells() -> None:
    sources = [c.source for c in cells_to_run(LAB, None, Answers.NONE)]
    assert "answer = 7" not in sources and "answer = None" in sources
    assert len(cells_to_run(LAB, None, Answers.FILLED)) == len(sources) + 1


def test_answered_students_take_the_teacher_version_where_there_is_one() -> None:
    teacher = {"cells": [_cell("answer = 7\n### END SOLUTION", solution=True)]}
    (cell,) = cells_to_run(LAB, teacher, Answers.FILLED)
    assert cell.is_answer and cell.source.startswith("answer = 7")


def _check(state: str) -> dict[str, Any]:
    return {"output_type": "display_data",
            "data": {"text/html": f'<div data-drillbook-check="{state}">'}}


def _drill(verdict: str) -> dict[str, Any]:
    return {"output_type": "execute_result", "data": {"text/plain": verdict}}


def _outputs(check: str, drill: str = "PASS (4 events)") -> list[list[dict[str, Any]]]:
    return [[], [_drill(drill)], [], [_check(check)], [_drill("FAIL cell:1: expected")]]


def test_a_run_is_judged_cell_by_cell() -> None:
    cells = cells_to_run(LAB, None, Answers.NONE)
    unanswered = judge(cells, _outputs("fail"))
    assert unanswered.checks == (False,)
    assert unanswered.as_expected(Answers.NONE)
    assert not unanswered.as_expected(Answers.FILLED)
    assert judge(cells, _outputs("pass")).as_expected(Answers.FILLED)
    late = judge(cells, _outputs("pass", drill="cell:2: timing error: expected at 0.1 s"))
    assert late.drills_failed == ("cell 1: cell:2: timing error: expected at 0.1 s",)
    assert not late.as_expected(Answers.FILLED)
    assert "%%drill cells that failed" in late.summary()


def test_errors_and_silent_checks_are_never_as_expected() -> None:
    cells = cells_to_run(LAB, None, Answers.NONE)
    outputs = _outputs("fail")
    outputs[3] = [{"output_type": "error", "ename": "NameError", "evalue": "run"}]
    verdict = judge(cells, outputs)
    assert verdict.silent_checks == (3,)
    assert verdict.errors == ("cell 3: NameError: run",)
    assert not verdict.as_expected(Answers.NONE)


def test_an_unanswered_nbgrader_answer_cell_may_say_so() -> None:
    lab = {"cells": [_cell("raise NotImplementedError()", solution=True),
                     _cell("labkit.check_passed(run)")]}
    cells = cells_to_run(lab, None, Answers.NONE)
    error = {"output_type": "error", "ename": "NotImplementedError", "evalue": ""}
    assert judge(cells, [[error], [_check("fail")]]).as_expected(Answers.NONE)


def test_a_teacher_drill_cell_with_its_solution_region_must_pass() -> None:
    teacher = {"cells": [_cell("%%drill\n0 socket(...) = 3  // EDIT ME\n### BEGIN SOLUTION\n"
                               "0 socket(...) = 4\n### END SOLUTION")]}
    (cell,) = cells_to_run(LAB, teacher, Answers.FILLED)
    assert cell.is_drill and not cell.is_exercise
    (handed_out,) = [c for c in cells_to_run(LAB, None, Answers.NONE) if "EDIT ME" in c.source]
    assert handed_out.is_exercise


def test_the_pidns_launcher_reads_its_command_line_and_reports_like_a_shell() -> None:
    from drillbook.classroom.pidns import Launch, exit_code, parse

    assert parse(["--user", "ana", "--", "jupyterhub-singleuser", "--port=1"]) == \
        Launch("ana", ("jupyterhub-singleuser", "--port=1"))
    assert exit_code(3 << 8) == 3  # exited with 3
    assert exit_code(2) == 130  # killed by SIGINT, as a shell reports it
    with pytest.raises(SystemExit):
        parse(["--", "true"])  # no --user: argparse's usage error, exit 2


def test_a_missing_proxy_names_the_file_and_the_commands_that_install_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    proxy = tmp_path / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    monkeypatch.setattr(launch, "PROXY", proxy)
    with pytest.raises(launch.LaunchError) as raised:
        launch.require_proxy()
    message = str(raised.value)
    assert str(proxy) in message
    assert "`make pytest`" in message and f"`cd {tmp_path / 'hub'} && npm ci`" in message
    proxy.parent.mkdir(parents=True)
    proxy.touch()
    launch.require_proxy()
