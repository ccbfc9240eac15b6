# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install clean chromium

# torch and torchvision are installed together from the registry (never the machine's local CPU-only torch wheel,
# which the registry's torchvision cannot import with). pip's cache is kept, so a second venv installs quickly.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/lookalike demo

test: $(VENV)/.installed chromium
	$(BIN)/python -m pytest -q

# The browser test drives Debian's chromium package. Installed here when missing and apt-get can; otherwise that one
# test is skipped and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: could not install chromium with apt-get; the browser test will be skipped"

clean:
	rm -rf $(VENV) demo-output .pytest_cache test-artifacts
