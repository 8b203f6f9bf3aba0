# drillbook: two commands do all the set-up.
#   make lab   - set up, then serve JupyterLab on 127.0.0.1:8888 opened at labs/
#   make test  - set up, then run the whole test suite (lint, types, tests)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp

.PHONY: setup lab test lint typecheck pytest system-packages clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

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

lab: setup
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=8888 --no-browser --allow-root \
	  --ServerApp.root_dir=labs

lint: setup
	$(PY) -m ruff check drillbook tests benchmarks

typecheck: setup
	$(PY) -m mypy --strict drillbook

pytest: setup system-packages
	$(PY) -m pytest -q tests

test: lint typecheck pytest

clean:
	rm -rf $(VENV) build *.egg-info
