# Two commands on a fresh machine (Python 3.11+ and make): `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-webhooks bench-soak bench-rush bench-catalog messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/htx serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n auto --maxprocesses 4 --dist loadfile

# Speed and accuracy figures (bench/): NLU on the corpus and a generated 10,000-product catalogue.
bench: $(STAMP)
	$(BIN)/python -m bench.nlu

# Webhook intake and end-to-end turns against `htx serve`, next to bare aiohttp (README "Performance");
# ARGS="--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/htx_bench" for PostgreSQL (a scratch database).
bench-webhooks: $(STAMP)
	$(BIN)/python -m bench.webhooks $(ARGS)

# The services' memory over 10 minutes of conversations (same ARGS).
bench-soak: $(STAMP)
	$(BIN)/python -m bench.webhooks --soak 600 $(ARGS)

# The rush: 2,000 buyers on three channels for 500 kg of one product, with checks (README "Performance");
# ARGS="--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/htx_bench --processes 1,2,4" (dropped, recreated).
bench-rush: $(STAMP)
	$(BIN)/python -m bench.rush $(ARGS)

# Catalogue import speed on a generated 5,000-row Excel file, next to openpyxl reading it alone.
bench-catalog: $(STAMP)
	$(BIN)/python -m bench.catalog_import

# Refresh the gettext catalogues after changing user-facing text (then translate the new vi entries).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o locales/messages.pot --no-location --omit-header -k _ .
	$(BIN)/pybabel update -i locales/messages.pot -d locales --ignore-obsolete --ignore-pot-creation-date -w 110
	rm locales/messages.pot

clean:
	rm -rf $(VENV) htx.db htx.db-wal htx.db-shm
