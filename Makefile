# omnirelay: the two commands a newcomer needs are `make run` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
BENCH_OUT ?= bench-results
NLU_DATA ?= ../shared/benchmarks/nlu

.PHONY: run test venv lint bench bench-load profile-load bench-nlu bench-rasa bench-tasks bench-continuity bench-analytics bench-proactive bench-memory soak-order faults fuzz clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(BIN)/omnirelay db upgrade
	$(BIN)/omnirelay demo seed
	$(BIN)/omnirelay run

# One pytest process per test folder (and one for the top-level files): an app's NLU model is
# ~50 MB with the dense encoder features and a single process running every suite grew by
# gigabytes; separate processes give it back between folders.
TEST_PARTS = $(sort $(dir $(wildcard tests/*/test_*.py))) $(wildcard tests/test_*.py)
test: venv
	@fail=0; for part in $(TEST_PARTS); do \
		echo "== $$part"; $(BIN)/pytest -q $$part || fail=1; \
	done; exit $$fail

# The fuzz tests of `make test` with many more examples: bodies per webhook channel, then
# requests per JSON API route and per OpenAPI operation, on both backends (not in `make test`).
FUZZ_EXAMPLES ?= 2000
API_FUZZ_EXAMPLES ?= 300
fuzz: venv
	OMNIRELAY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q \
		tests/channels/test_fuzz_webhooks.py --hypothesis-show-statistics -o timeout=1800
	OMNIRELAY_FUZZ_EXAMPLES=$(API_FUZZ_EXAMPLES) $(BIN)/pytest -q \
		tests/fuzz --hypothesis-show-statistics -o timeout=3600

lint: venv
	$(BIN)/ruff check bots nlu handoff storage tests
	$(BIN)/ruff format --check bots nlu handoff storage tests
	$(BIN)/mypy storage nlu bots handoff

# Benchmarks are not part of `make test`; each prints its figures and writes JSON to $(BENCH_OUT)/.
bench: bench-load bench-nlu bench-tasks bench-continuity

bench-continuity: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python tests/benchmarks/bench_continuity.py --out $(BENCH_OUT)/continuity.json

bench-tasks: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python tests/benchmarks/bench_tasks.py --out $(BENCH_OUT)/tasks.json

bench-load: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python tests/benchmarks/bench_load.py --mode embedded --out $(BENCH_OUT)/load-embedded.json
	$(BIN)/python tests/benchmarks/bench_load.py --mode scaleout --out $(BENCH_OUT)/load-scaleout.json

# Where a message's time goes under bench-load's loop: py-spy samples every service process;
# collapsed stacks, flame graphs and the top frames go to $(BENCH_OUT)/profile/ (outside git).
PROFILE_MODE ?= embedded
profile-load: venv
	$(BIN)/python tests/benchmarks/profile_load.py --mode $(PROFILE_MODE) --out-dir $(BENCH_OUT)/profile

# The analytics summary over 1,000,000 messages on SQLite and PostgreSQL, and the cost of writing
# the events in bench-load's embedded loop (issue 15; not in `make test`). Quick: ANALYTICS_MESSAGES=100000
ANALYTICS_MESSAGES ?= 1000000
bench-analytics: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python tests/benchmarks/bench_analytics.py --messages $(ANALYTICS_MESSAGES) --out $(BENCH_OUT)/analytics.json

# 100,000 reminders due at once, drained embedded and by 1 and 3 workers at 1,000 messages/s per
# bot, then 3,000 at Telegram's default 30/s (long: hours on two cores; not part of `bench`).
# A quick check: `$(BIN)/python -m tests.benchmarks.bench_proactive --jobs 2000`.
PROACTIVE_JOBS ?= 100000
bench-proactive: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python -m tests.benchmarks.bench_proactive --jobs $(PROACTIVE_JOBS) --out $(BENCH_OUT)/proactive.json

# Memory per unit of load (issue 19): Redis bytes per session and per queued message, PostgreSQL
# and SQLite bytes per message, and the embedded service's RSS over 1,000,000 messages from
# 100,000 customers (hours on two shared cores; a quick look: MEMORY_MESSAGES=300000).
MEMORY_MESSAGES ?= 1000000
bench-memory: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python tests/benchmarks/bench_memory.py --messages $(MEMORY_MESSAGES) --out $(BENCH_OUT)/memory.json

bench-nlu: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python tests/benchmarks/bench_nlu.py --data $(NLU_DATA) --out $(BENCH_OUT)/nlu.json
	$(BIN)/python tests/benchmarks/bench_nlu_snips.py --data $(NLU_DATA)/snips --out $(BENCH_OUT)/nlu-snips.json

bench-rasa: venv
	mkdir -p $(BENCH_OUT)
	bash tests/benchmarks/rasa/run.sh $(NLU_DATA) $(BENCH_OUT)/rasa.json

# The ordering tests 20 times in a row beside one busy-loop CPU burner per core (not in `make test`).
SOAK_ITERATIONS ?= 20
soak-order: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python tests/benchmarks/soak_order.py --iterations $(SOAK_ITERATIONS) --out $(BENCH_OUT)/soak-order.json

# The fault campaign (issue 12): every case against a gateway and 3 workers over a private Redis
# and PostgreSQL (never the shared ones); a small version of each runs in `make test`.
faults: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python -m tests.faults.run --out $(BENCH_OUT)/faults.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(BENCH_OUT)
