# Two commands for readers: `make book` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install book student test lint clean

# Create the virtual environment and install the exact pins, the package, and its kernel.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else f"make: Python 3.11 or newer is needed (the pinned numpy, pandas and ipython need it); $(PYTHON) is {v.major}.{v.minor}. Run: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name ttc --display-name "Python (ttc)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)

## make book [PROFILE=cpu|smoke|gpu|workshop]: execute every notebook and build the HTML book
book: install
	$(BIN)/ttc book --profile $(PROFILE)

## make student [PROFILE=cpu|smoke|gpu]: the notebooks without exercise solutions
## (student/notebooks/) and the student book with solutions hidden (student/book/_build/html)
student: install
	$(BIN)/ttc student --profile $(PROFILE)

## make test: lint, unit tests, notebooks under the smoke profile, book build, browser checks
test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -ra

lint: install
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf book/_build book/notebooks results student
