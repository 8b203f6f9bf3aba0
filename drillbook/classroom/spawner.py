"""The hub's spawner: a student's server as the student, inside the student's limits.

:class:`StudentSpawner` is JupyterHub's LocalProcessSpawner (the server runs as the student's
Unix account, no systemd needed) plus what a class needs:

- before the start: the account is checked or created, its home made 0700, the labs copied on
  first login (:func:`drillbook.classroom.accounts.prepare_student`);
- the server process joins the student's own cgroups (tasks, memory, CPU share) and gets
  RLIMIT_NPROC before it drops to the student's uid, so everything it starts — kernels,
  drillbook workers, a script's shell lines, in any user namespace — counts against the
  student's limits (:mod:`drillbook.classroom.limits`);
- the server runs in its own PID namespace with its own /proc (plus its own mount and IPC
  namespaces), so a student sees and can address by pid only their own processes; the hub
  starts it through :mod:`drillbook.classroom.pidns`, which drops to the student after making
  the namespaces (``private_processes``, on by default);
- after a stop (by the student, the admin or the idle culler): whatever the student left
  running in those cgroups is killed and the groups removed.

Configure it in jupyterhub_config.py (``c.StudentSpawner.mem_limit = "2G"`` etc.; the limits
are the standard Spawner traits ``mem_limit`` and ``cpu_limit`` plus ``max_processes`` and
``cpu_weight``; ``private_processes = False`` turns the PID namespace off).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Bool, Integer, Unicode

from drillbook.classroom.accounts import prepare_student
from drillbook.classroom.limits import (
    GIB,
    CgroupLayout,
    StudentGroup,
    StudentLimits,
    set_process_rlimit,
)


class StudentSpawner(LocalProcessSpawner):  # type: ignore[misc]  # jupyterhub is untyped
    """LocalProcessSpawner with private homes, first-login labs and per-student limits."""

    labs_source = Unicode(
        "", config=True,
        help="Folder whose notebooks each student gets as ~/labs on first login ('' = none).")
    create_accounts = Bool(
        False, config=True,
        help="Create a missing Unix account (0700 home) for a hub user on first spawn.")
    max_processes = Integer(
        512, config=True, help="Most tasks (processes and threads) a student may have.")
    cpu_weight = Integer(
        100, config=True,
        help="A student's share of a busy CPU (cgroup v2 scale, 100 = an equal share).")
    private_processes = Bool(
        True, config=True,
        help="Run each server in its own PID namespace with its own /proc, so that a student "
             "cannot see other students' processes (needs a hub with CAP_SYS_ADMIN, i.e. root "
             "on the host). Off: mount the host's /proc with hidepid=invisible instead.")

    def limits(self) -> StudentLimits:
        """The limits in force for this student, from the traits."""
        return StudentLimits(
            max_processes=self.max_processes,
            memory_bytes=int(self.mem_limit or 2 * GIB),
            cpu_cores=float(self.cpu_limit) if self.cpu_limit else None,
            cpu_weight=self.cpu_weight,
        )

    def _group(self) -> StudentGroup:
        return StudentGroup(CgroupLayout.of_this_process(), self.user.name)

    async def start(self) -> Any:
        labs = Path(self.labs_source) if self.labs_source else None
        await asyncio.to_thread(prepare_student, self.user.name, labs, self.create_accounts)
        group = self._group()
        group.create(self.limits())
        self.log.info("student %s: limits %s in %s cgroups %s", self.user.name,
                      self.limits(), group.layout.version or "no", sorted(group.folders()))
        if not self.private_processes:
            return await super().start()
        # LocalProcessSpawner.start reads the command from the ``cmd`` trait: wrap it for
        # this start only.
        configured = [str(part) for part in self.cmd]
        self.set_trait("cmd", [*self.pidns_launcher(), *configured])
        try:
            return await super().start()
        finally:
            self.set_trait("cmd", configured)

    def pidns_launcher(self) -> list[str]:
        """The command that runs the server in its own PID namespace as this student. The
        hub's own interpreter, isolated (-I: no student-controlled path or environment)."""
        return [sys.executable, "-I", "-m", "drillbook.classroom.pidns",
                "--user", self.user.name, "--"]

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        drop_to_student = super().make_preexec_fn(name)
        group, limits = self._group(), self.limits()
        # With private processes the launcher drops to the student once the namespaces are
        # made (that needs root); until then it runs only the hub's own code.
        drop_here = not self.private_processes

        def preexec() -> None:
            group.join(os.getpid())
            set_process_rlimit(limits)
            if drop_here:
                drop_to_student()

        return preexec

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        group = self._group()
        for pid in group.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        await asyncio.to_thread(group.remove)
