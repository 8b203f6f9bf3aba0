"""Running this checkout's drillbook as another account (``nobody``, a throwaway user).

The checkout may sit under a private folder (root's home is 0700), and so may the interpreter
of its ``.venv`` (pyenv installs under /root): another account can read neither. A *stage* is
a world-readable temporary folder under /var/tmp holding what that account needs — the
package, the venv's site-packages, the test helpers and the scripts — and the account runs it
with an interpreter of the same Python version that it may execute (``/usr/bin/python3.X`` on
these machines). Files that are already world-readable are hard-linked into the stage (it
costs well under a second); others are copied and made readable. The stage is removed after.

The stage lives under /var/tmp, not /tmp: the worker mounts its own /tmp, and the fault tests
watch the host's /tmp for leftovers.
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class Account:
    """Another account, and how to run a command as it (no groups, no capabilities)."""

    uid: int
    gid: int

    def prefix(self) -> list[str]:
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "check missing_tools() first"
        return [setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                "--inh-caps=-all"]


NOBODY = Account(65534, 65534)


def missing_tools() -> str | None:
    """Why this process cannot run commands as another account, or None."""
    if os.geteuid() != 0:
        return "running as another account needs root"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    return None


@dataclass
class Stage:
    """A world-readable folder with the package, its dependencies and test helpers."""

    root: Path
    _pythons: dict[Account, str | None] = field(default_factory=dict)

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join((str(self.lib), str(self.root / "site")))

    def add_module(self, source: Path) -> Path:
        """Put a helper module (a test's entry functions...) on the stage's import path."""
        return _mirror_file(source, self.lib / source.name)

    def add_file(self, name: str, text: str) -> Path:
        """A world-readable file (a script) in the stage."""
        path = self.files / name
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
        return path

    def python_for(self, account: Account) -> str | None:
        """An interpreter of this Python version (the staged site-packages hold extension
        modules built for it) that *account* may execute, or None."""
        if account not in self._pythons:
            self._pythons[account] = next(
                (candidate for candidate in _interpreter_candidates()
                 if _runs_as(account, candidate)), None)
        return self._pythons[account]

    def no_python_reason(self, account: Account) -> str:
        tried = ", ".join(_interpreter_candidates())
        return (f"no Python {PYTHON_VERSION} that uid {account.uid} may execute "
                f"(tried {tried})")

    def command(self, account: Account, python: str, argv: Sequence[str],
                env: Mapping[str, str] | None = None) -> list[str]:
        """*argv* run by *python* as *account*, in a clean environment importing the stage."""
        variables = {"PATH": "/usr/bin:/bin", "HOME": "/var/tmp",
                     "PYTHONPATH": self.pythonpath, "PYTHONDONTWRITEBYTECODE": "1",
                     **(env or {})}
        return [*account.prefix(), "env", "-i",
                *(f"{key}={value}" for key, value in variables.items()), python, *argv]


@contextmanager
def staged() -> Iterator[Stage]:
    """A stage of this checkout and its venv, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="drillbook-stage-", dir="/var/tmp"))
    try:
        root.chmod(0o755)
        _mirror_tree(PROJECT / "drillbook", root / "lib" / "drillbook")
        # The other account cannot write bytecode here: compile it once now (a fresh clone has
        # none), or every process it starts would compile the package again.
        compileall.compile_dir(root / "lib" / "drillbook", quiet=1)
        for site in dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib")):
            _mirror_tree(Path(site), root / "site")
        yield Stage(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _interpreter_candidates() -> list[str]:
    own = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    names = [own, f"/usr/bin/python{PYTHON_VERSION}", f"/usr/local/bin/python{PYTHON_VERSION}"]
    return list(dict.fromkeys(names))


def _runs_as(account: Account, python: str) -> bool:
    if not os.path.exists(python):
        return False
    probe = subprocess.run(
        [*account.prefix(), "env", "-i", python, "-c",
         "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, timeout=60, cwd="/")
    return probe.returncode == 0 and probe.stdout.strip() == PYTHON_VERSION


def _mirror_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True,
                    copy_function=_mirror_file)
    for folder, _, _ in os.walk(target):
        os.chmod(folder, 0o755)


def _mirror_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """A hard link where *source* is world-readable already (instant, no space), otherwise a
    copy made world-readable. A mode keeps its execute bits."""
    mode = os.stat(source).st_mode
    if os.path.lexists(target):
        os.unlink(target)
    if mode & 0o004:
        try:
            os.link(source, target)
            return Path(target)
        except OSError:
            pass  # another file system
    shutil.copy2(source, target)
    os.chmod(target, (mode & 0o777) | 0o444 | (0o111 if mode & 0o100 else 0))
    return Path(target)
