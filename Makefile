# melflow: `make demo` and `make test` set up everything they need on a fresh machine.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
STAMP   := .venv/.melflow-installed
DEB     := yosys espeak-ng flite sox festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts \
           festvox-italp16k festvox-itapc16k festvox-czech-dita festvox-czech-machac festvox-czech-ph \
           festvox-suopuhe-mv festvox-suopuhe-lj festvox-ca-ona-hts festvox-ru
DATA    ?= data/kws-small
DEMO    ?= build/demo

.PHONY: setup sysdeps test demo clean

setup: sysdeps $(STAMP)

# Debian packages, installed only when one is missing (CI and new machines run as root).
sysdeps:
	@if ! dpkg -s $(DEB) >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB) >/dev/null; \
	fi

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -x -q -rs tests

demo: setup
	$(PY) scripts/demo.py --data $(DATA) --out $(DEMO)

clean:
	rm -rf build .pytest_cache sim_build
