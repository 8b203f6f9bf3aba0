"""Student accounts: a Unix user per student, a private home, the student's own copy of the labs.

The hub (root) calls :func:`prepare_student` before it starts a student's server:

- the name must be a plain Unix user name (an SSO login is mapped to one by the authenticator,
  see docs/classroom.md); a system account (uid below 1000, root above all) is refused, so a hub
  user named ``root`` can never get a root server;
- the account is created when missing and the hub is allowed to (``useradd`` with a 0700 home);
  an existing account's home is made 0700 (``useradd -m`` makes 0755 homes on Debian, which
  would let every student read every other student's work);
- on first login, ``~/labs`` receives a copy of the student labs. The copy is made as root into
  a folder created fresh (never through a link the student could have planted) and handed to
  the student; a student's later edits are never overwritten.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

UID_MIN = 1000
NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
LABS_FOLDER = "labs"


class AccountError(Exception):
    """A student account cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Student:
    """A student's Unix identity."""

    name: str
    uid: int
    gid: int
    home: Path


def check_name(name: str) -> None:
    """Raise AccountError unless ``name`` is a plain Unix user name."""
    if not NAME_PATTERN.match(name):
        raise AccountError(
            f"hub user {name!r} is not a valid Unix user name (lower-case letters, digits, "
            "'_' and '-', at most 31, starting with a letter or '_'): map SSO names to Unix "
            "names in the authenticator (docs/classroom.md)")


def lookup(name: str) -> Student | None:
    """The account ``name``, or None when it does not exist."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return Student(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def create(name: str) -> Student:
    """Make a student account with a private home and a locked password (root only)."""
    check_name(name)
    proc = subprocess.run(
        ["useradd", "--create-home", "--key", "HOME_MODE=0700", "--shell", "/bin/bash",
         "--comment", "drillbook student", name],
        capture_output=True, text=True, check=False)
    student = lookup(name)
    if proc.returncode != 0 or student is None:
        raise AccountError(f"useradd {name} failed: {proc.stderr.strip()}")
    return student


def remove(name: str) -> None:
    """Delete a student account with its home and mail spool (root only; idempotent)."""
    if lookup(name) is not None:
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)


def prepare_student(name: str, labs: Path | None, create_missing: bool) -> Student:
    """Everything the hub does for ``name`` before its server starts (see module doc)."""
    check_name(name)
    student = lookup(name)
    if student is None:
        if not create_missing:
            raise AccountError(f"no Unix account {name!r}: create it (useradd -m {name}) or "
                               "set StudentSpawner.create_accounts = True")
        student = create(name)
    if student.uid < UID_MIN:
        raise AccountError(f"{name!r} is a system account (uid {student.uid}): students need "
                           f"a uid of {UID_MIN} or more")
    make_home_private(student)
    if labs is not None:
        copy_labs(student, labs)
    return student


def make_home_private(student: Student) -> None:
    """The home exists, belongs to the student and is 0700."""
    if not student.home.exists():
        student.home.mkdir(mode=0o700, parents=True)
        os.chown(student.home, student.uid, student.gid)
    os.chmod(student.home, 0o700)


def copy_labs(student: Student, source: Path) -> bool:
    """Copy ``source``'s notebooks (and the folders beside them) to ``~/labs`` on first login;
    False when the student already has a ``~/labs`` (kept as it is)."""
    home_fd = os.open(student.home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            os.mkdir(LABS_FOLDER, 0o700, dir_fd=home_fd)
        except FileExistsError:
            return False
        labs_fd = os.open(LABS_FOLDER, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                          dir_fd=home_fd)
        try:
            _copy_tree(source, labs_fd, student)
            os.fchown(labs_fd, student.uid, student.gid)
        finally:
            os.close(labs_fd)
    finally:
        os.close(home_fd)
    return True


def _copy_tree(source: Path, folder_fd: int, student: Student) -> None:
    for entry in sorted(source.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir():
            os.mkdir(entry.name, 0o700, dir_fd=folder_fd)
            child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                            dir_fd=folder_fd)
            try:
                _copy_tree(entry, child, student)
                os.fchown(child, student.uid, student.gid)
            finally:
                os.close(child)
        elif entry.is_file():
            target = os.open(entry.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             0o600, dir_fd=folder_fd)
            with os.fdopen(target, "wb") as out, entry.open("rb") as data:
                shutil.copyfileobj(data, out)
                os.fchown(out.fileno(), student.uid, student.gid)
