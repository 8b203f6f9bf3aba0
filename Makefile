# drillbook: two commands do all the set-up.
#   make lab     - set up, then serve JupyterLab on 127.0.0.1:8888 opened at labs/ (notebooks/ reachable)
#   make test    - set up, then run the whole test suite (lint, types, tests)
#   make install - install drillbook for every account of this machine (PREFIX, BINDIR)
#   make hub     - install, then serve JupyterHub for a class on 127.0.0.1:8000 (README: A class)
#   make labs    - regenerate the student labs (labs/) from the teacher versions (course/source/)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp
# nbgrader's teacher panels are off for students (see $(STUDENT_VIEW)'s rule below).
STUDENT_VIEW := $(VENV)/etc/jupyter/labconfig/page_config.json
PROXY := hub/node_modules/.bin/configurable-http-proxy

# The interpreter the venvs are built from: /usr/bin/python3 when it is 3.11 or newer, because
# every account may execute it (the first python3 on PATH may live under root's 0700 home, as
# pyenv's does, and a venv made from it works for root alone); otherwise python3 from PATH.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; assert sys.version_info >= (3, 11)' \
                  2>/dev/null && echo /usr/bin/python3 || echo python3)

# make install: a world-readable, non-editable install in $(PREFIX)/venv, and the drillbook
# command linked into $(BINDIR), so that any account can run it.
PREFIX ?= /opt/drillbook
BINDIR ?= /usr/local/bin

.PHONY: setup lab labs test lint typecheck pytest system-packages install clean hub hub-install hub-host

setup: $(STAMP) $(STUDENT_VIEW)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# An editable install leaves out pyproject's data files (a wheel installs them): link the
	# prebuilt JupyterLab extension and nbconvert's %%drill setting where a wheel puts them.
	mkdir -p $(VENV)/share/jupyter/labextensions $(VENV)/etc/jupyter/jupyter_server_config.d
	ln -sfn $(CURDIR)/drillbook/labextension $(VENV)/share/jupyter/labextensions/drillbook-packetdrill
	ln -sf $(CURDIR)/drillbook/highlight/jupyter_nbconvert_config.json $(VENV)/etc/jupyter/
	ln -sf $(CURDIR)/drillbook/highlight/jupyter_server_config.d/drillbook.json $(VENV)/etc/jupyter/jupyter_server_config.d/
	touch $(STAMP)

# Students see nbgrader's assignment list and Validate button, not the teacher's panels
# (formgrader, Create Assignment, the course list): disabled and locked in the venv the student
# servers run from (drillbook/course/student_view.py; hub-install does the same to the hub's).
$(STUDENT_VIEW): $(STAMP)
	$(PY) -m drillbook.course.student_view $(VENV)

# System packages the tests use: iproute2 (ip, tc), ethtool (corpus scripts call it inside
# their namespace, as on the machines the C packetdrill verdicts come from), chromium for the
# browser test, tshark to read the pcap files drillbook writes.
system-packages:
	@missing=""; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v ethtool >/dev/null || [ -x /usr/sbin/ethtool ] || missing="$$missing ethtool"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v tshark >/dev/null || missing="$$missing tshark"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	fi

# JupyterLab serves the project folder and opens at labs/, so notebooks/ (the demo the README
# points to) is one click up. LAB_PORT and LAB_ARGS let a test start it on a free port.
LAB_PORT ?= 8888
LAB_ARGS ?=
lab: setup
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser --allow-root \
	  --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/labs $(LAB_ARGS)

# The student labs are generated, never edited: edit the teacher version
# course/source/<lab>/<lab>.ipynb, then run this (nbgrader generate_assignment on a scratch
# copy of course/) and commit both. A test fails when labs/ differs from what this makes.
labs: setup
	$(VENV)/bin/drillbook labs --course course --out labs

lint: setup
	$(PY) -m ruff check drillbook tests benchmarks

typecheck: setup
	$(PY) -m mypy --strict drillbook

# Three workers (pytest-xdist) on this 2-CPU machine: most of the suite waits on kernel timers,
# script sleeps and start-ups, so three lanes overlap the waiting (390 s against 437 s with two,
# 2026-12-08); tests/conftest.py says which tests share a worker and which start first
# (loadgroup; xdist's reordering of groups by size is off so that order holds), and keeps the
# rootless tests apart from the busy ones (tests/calm_lock.py).
PYTEST_WORKERS ?= 3
pytest: setup system-packages $(PROXY)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder tests

test: lint typecheck pytest

install:
	umask 022 && $(PYTHON) -m venv $(PREFIX)/venv
	umask 022 && $(PREFIX)/venv/bin/python -m pip install --quiet --upgrade pip
	rm -rf build  # setuptools would pack stale files left in build/lib by an older tree
	umask 022 && $(PREFIX)/venv/bin/python -m pip install --quiet .
	chmod -R a+rX $(PREFIX)
	mkdir -p $(BINDIR)
	ln -sfn $(PREFIX)/venv/bin/drillbook $(BINDIR)/drillbook
	@echo "installed: $(BINDIR)/drillbook -> $(PREFIX)/venv/bin/drillbook ($$($(PREFIX)/venv/bin/python --version))"

# --- a class on one server: JupyterHub, students as Unix users (README: A class) -------------
# The hub and the students' servers run from the install above ($(PREFIX)/venv, world-readable,
# built from /usr/bin/python3) with the hub's packages added; the proxy comes from npm into
# hub/node_modules. The hub's secrets (sqlite, cookie secret, passwords, site config) live in
# HUB_STATE, a 0700 folder. Who logs in and each student's limits are variables.
HUB_STATE ?= /var/lib/drillbook-hub
HUB_PORT ?= 8000
HUB_AUTH ?= pam
HUB_STUDENTS ?=
HUB_ADMINS ?=
HUB_CREATE_ACCOUNTS ?= 0
HUB_MEM_LIMIT ?= 2G
HUB_MAX_PROCESSES ?= 512
HUB_CPU_LIMIT ?=
HUB_CULL_TIMEOUT ?= 3600
# 0: students' servers share the host's PID namespace (then mount /proc with hidepid=invisible)
HUB_PRIVATE_PROCESSES ?= 1

$(PROXY): hub/package.json hub/package-lock.json
	cd hub && npm ci --no-audit --no-fund --loglevel=error
	touch $@

hub-install: install
	umask 022 && $(PREFIX)/venv/bin/python -m pip install --quiet '.[hub]'
	umask 022 && $(PREFIX)/venv/bin/python -m drillbook.course.student_view $(PREFIX)/venv
	rm -rf build
	chmod -R a+rX $(PREFIX)

# Sets what a class needs of the host (/dev/net/tun usable by all) and says exactly what else is
# missing (unprivileged user namespaces; a PID namespace per student's server, tried once as
# nobody; cgroup controllers for the limits). It never changes the host's /proc.
hub-host: hub-install
	DRILLBOOK_HUB_PRIVATE_PROCESSES=$(HUB_PRIVATE_PROCESSES) \
	  $(PREFIX)/venv/bin/python -m drillbook.classroom.host --fix

hub: hub-install hub-host $(PROXY)
	cd / && env DRILLBOOK_HUB_PREFIX=$(PREFIX)/venv DRILLBOOK_HUB_STATE=$(HUB_STATE) \
	  DRILLBOOK_HUB_PORT=$(HUB_PORT) DRILLBOOK_HUB_AUTH=$(HUB_AUTH) \
	  DRILLBOOK_HUB_STUDENTS="$(HUB_STUDENTS)" DRILLBOOK_HUB_ADMINS="$(HUB_ADMINS)" \
	  DRILLBOOK_HUB_CREATE_ACCOUNTS=$(HUB_CREATE_ACCOUNTS) DRILLBOOK_HUB_MEM_LIMIT=$(HUB_MEM_LIMIT) \
	  DRILLBOOK_HUB_MAX_PROCESSES=$(HUB_MAX_PROCESSES) DRILLBOOK_HUB_CPU_LIMIT=$(HUB_CPU_LIMIT) \
	  DRILLBOOK_HUB_CULL_TIMEOUT=$(HUB_CULL_TIMEOUT) DRILLBOOK_HUB_PRIVATE_PROCESSES=$(HUB_PRIVATE_PROCESSES) \
	  $(PREFIX)/venv/bin/jupyterhub -f $(CURDIR)/hub/jupyterhub_config.py

clean:
	rm -rf $(VENV) build *.egg-info
