# Two commands matter: `make run` (set up + run the product on embedded defaults) and
# `make test` (set up + run the whole suite). Everything else here serves those two.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
MANAGE  := $(PY) manage.py

.PHONY: run test setup lint format clean

# Find a Python >= 3.12: python3.12 / python3.13 first (pyenv resolves them through
# .python-version), then plain python3. Say exactly what to install when none fits.
$(PY):
	@py=""; for c in python3.12 python3.13 python3.14 python3; do \
	  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then py=$$c; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "Syncline needs Python 3.12 or newer (Django 6.1 requires it), and none was found."; \
	  echo "Install one, e.g. 'apt-get install python3.12 python3.12-venv', 'pyenv install 3.12', or 'uv python install 3.12', then run make again."; \
	  exit 1; \
	fi; \
	echo "Creating $(VENV) with $$($$py --version)"; \
	$$py -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)
	@mkdir -p var
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo

run: setup
	$(MANAGE) runall

test: $(STAMP)
	@mkdir -p var
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var
