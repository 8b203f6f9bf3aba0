# JupyterHub configuration for a drillbook class on one Linux server (`make hub` serves it).
#
# Students are Unix users; each student's JupyterLab runs as that user (StudentSpawner, i.e.
# LocalProcessSpawner plus private homes, first-login labs and per-student limits; SystemdSpawner
# where systemd is PID 1). drillbook in a student's kernel runs its scripts through its rootless
# path: a user namespace with a network namespace inside, owned by the student.
#
# Everything a site changes is read from the environment (set by `make hub`, see README) or from
# a site file kept with the hub's secrets: $DRILLBOOK_HUB_STATE/site_config.py (SSO settings with
# the client secret go there; docs/classroom.md has an OAuthenticator example).
# ruff: noqa: F821  (`c` and `load_subconfig` are given by JupyterHub)
import os
import secrets
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
env = os.environ.get

# --- where things live --------------------------------------------------------------------
# The hub's state (sqlite database, cookie secret, proxy pid, shared password, site config) is
# secret: a 0700 folder owned by root, files created 0600 (umask 077; students' servers inherit
# it too, so new files in their homes are private).
os.umask(0o077)
STATE = Path(env("DRILLBOOK_HUB_STATE", "/var/lib/drillbook-hub"))
STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
STATE.chmod(0o700)
# The install students execute: built from /usr/bin/python3, world-readable (make install).
PREFIX = Path(env("DRILLBOOK_HUB_PREFIX", "/opt/drillbook/venv"))
LABS = env("DRILLBOOK_HUB_LABS", str(PROJECT / "labs"))

IP, PORT = env("DRILLBOOK_HUB_IP", "127.0.0.1"), env("DRILLBOOK_HUB_PORT", "8000")
c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_port = int(env("DRILLBOOK_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('DRILLBOOK_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(PROJECT / "hub/node_modules/.bin/configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every student's server

# --- students' servers ----------------------------------------------------------------------
if Path("/proc/1/comm").read_text().strip() == "systemd":
    # systemd as PID 1: each server is a transient unit with its own limits and private /tmp.
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.disable_user_sudo = True
    # ProtectProc=invisible: the unit's own /proc hides other users' processes (systemd >= 247).
    c.SystemdSpawner.unit_extra_properties = {"TasksMax": env("DRILLBOOK_HUB_MAX_PROCESSES", "512"),
                                              "ProtectProc": "invisible"}
else:
    c.JupyterHub.spawner_class = "drillbook.classroom.spawner.StudentSpawner"
    c.StudentSpawner.labs_source = LABS
    c.StudentSpawner.create_accounts = env("DRILLBOOK_HUB_CREATE_ACCOUNTS", "0") == "1"
    c.StudentSpawner.max_processes = int(env("DRILLBOOK_HUB_MAX_PROCESSES", "512"))
    c.StudentSpawner.cpu_weight = 100  # every student the same share of a busy CPU
    # Each server in its own PID namespace with its own /proc: a student sees only their own
    # processes, and the host's /proc is left as it is. "0" turns it off (then mount the host's
    # /proc with hidepid=invisible; `make hub` says so).
    c.StudentSpawner.private_processes = env("DRILLBOOK_HUB_PRIVATE_PROCESSES", "1") != "0"
c.Spawner.mem_limit = env("DRILLBOOK_HUB_MEM_LIMIT", "2G")
if env("DRILLBOOK_HUB_CPU_LIMIT"):
    c.Spawner.cpu_limit = float(env("DRILLBOOK_HUB_CPU_LIMIT"))
c.Spawner.cmd = [str(PREFIX / "bin/jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/labs"  # JupyterLab, opened at the student's own labs
c.Spawner.notebook_dir = "~"
# sbin too: a script's shell lines call tc, sysctl, ethtool (root only inside its namespace).
c.Spawner.environment = {
    "PATH": f"{PREFIX / 'bin'}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"}
# A class logs in at once: give a loaded server time to start everyone.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180

# --- idle culler: stop servers nobody used for an hour (frees memory for the others) -------------
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                f"--timeout={env('DRILLBOOK_HUB_CULL_TIMEOUT', '3600')}", "--cull-every=60"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]

# --- who may log in --------------------------------------------------------------------------
# DRILLBOOK_HUB_AUTH: pam (Unix passwords, the default), shared-password (a demo: one password,
# a fixed list of students), native (NativeAuthenticator: students sign up, an admin approves).
# SSO (OAuthenticator): put its settings in $DRILLBOOK_HUB_STATE/site_config.py.
AUTH = env("DRILLBOOK_HUB_AUTH", "pam")
c.JupyterHub.authenticator_class = AUTH
students = set(env("DRILLBOOK_HUB_STUDENTS", "").split())
if students:
    c.Authenticator.allowed_users = students
elif AUTH == "pam":
    c.PAMAuthenticator.allowed_groups = {env("DRILLBOOK_HUB_GROUP", "students")}
elif AUTH == "native":
    c.Authenticator.allow_all = True  # whoever signed up *and* was approved by an admin
admins = set(env("DRILLBOOK_HUB_ADMINS", "").split())
if admins:
    c.Authenticator.admin_users = admins
if AUTH == "shared-password":
    password_file = STATE / "shared_password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(12) + "\n")
    c.SharedPasswordAuthenticator.user_password = password_file.read_text().strip()

site = STATE / "site_config.py"
if site.exists():
    load_subconfig(str(site))
