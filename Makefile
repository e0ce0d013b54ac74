# repalign: `make demo` runs the main job, `make test` the whole test suite.
# Both install what they need first (a local .venv with pinned dependencies).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[all]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/repalign demo --out demo-output

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/measures.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis src/*.egg-info demo-output
