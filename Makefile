# Switchboard. Two entry points on a fresh machine:
#   make run    create .venv, install, play the demo on the local world (moto + Slack stand-in); the world keeps
#               serving the console in the background (`make down` stops it; `make run` again replaces it)
#   make test   create .venv (+ .venv-checkov), install dev deps, run ruff, pytest, then package every stage and
#               run cfn-lint and checkov on infra/*.yaml and on each stage's packaged template
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
INSTALLED := $(VENV)/.installed
CHECKOV := $(CHECKOV_VENV)/.installed
CHECKOV_VERSION := 3.3.30
# every stage of .chalice/config.json (= every account); `make package STAGE=prod` builds one
STAGES := $(shell $(PY) -c 'import json; print(" ".join(json.load(open(".chalice/config.json"))["stages"]))')
TEMPLATES := $(foreach s,$(STAGES),build/$(s)/sam.yaml)
# Offline: no Prisma Cloud look-ups (guidelines, mappings), nothing but the templates. A check that does not
# apply is skipped in the template, next to its resource, with the reason (never here).
CHECKOV_RUN := BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --framework cloudformation --quiet --compact --skip-download

.PHONY: run down up console browser test lint pytest cfn-lint checkov bench iam-policy package packages clean

$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# checkov pins old boto3/packaging: it gets a virtualenv of its own, never the project's.
$(CHECKOV):
	$(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q checkov==$(CHECKOV_VERSION)
	touch $@

run: $(INSTALLED)
	$(BIN)/switchboard demo

down: $(INSTALLED)
	$(BIN)/switchboard down

up: $(INSTALLED)
	$(BIN)/switchboard up

# the demo, then the world stays up in this shell so the console shows its story (Ctrl-C to stop)
console: $(INSTALLED)
	$(BIN)/switchboard demo --stay

# The console's browser tests drive Debian's headless Chromium (never `playwright install`: no downloads).
# Without root or apt, the tests skip with a message saying the browser is missing.
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null | head -1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else echo "cannot install chromium (not root, or no apt-get): the browser tests will skip, saying so" >&2; fi

test: lint pytest cfn-lint checkov

lint: $(INSTALLED)
	$(BIN)/ruff check .

# pytest exits 5 when it collected nothing: that is a broken suite, said plainly.
pytest: $(INSTALLED) browser
	$(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; exit 1; fi; exit $$rc

cfn-lint: packages
	$(BIN)/cfn-lint infra/*.yaml $(TEMPLATES)

checkov: $(CHECKOV) packages
	$(CHECKOV_RUN) -d infra
	@for t in $(TEMPLATES); do echo "== $$t"; $(CHECKOV_RUN) -f $$t || exit 1; done

# Each figure with its goal, each ratio measured side by side in one run (README, "Benchmarks"). The organisation
# simulator joins when bench/simulate.py is there.
bench: $(INSTALLED)
	$(BIN)/python bench/cold_start.py --variant tracer
	$(BIN)/python bench/slack_ack.py
	$(BIN)/python bench/cold_ack.py
	$(BIN)/python bench/alert_storm.py
	$(BIN)/python bench/package_size.py
	$(BIN)/python bench/console.py
	@if test -f bench/simulate.py; then $(BIN)/python bench/simulate.py --accounts 10; fi

# One role per function per stage: writes .chalice/policy-<stage>-<function>.json and wires them into
# .chalice/config.json (lambda_functions.<name>.iam_policy_file). tests/test_iam_*.py fail until it is re-run.
iam-policy: $(INSTALLED)
	$(BIN)/python -m infra.iam_policy

# Build the CloudFormation of one account: make package STAGE=prod -> build/prod/sam.yaml (README, "Deploying").
# No AWS configuration needed: the region is the policy's (account.region). Without STAGE: every stage.
package: $(INSTALLED)
	$(BIN)/python -m infra.package $(STAGE)

packages: $(INSTALLED)
	$(BIN)/python -m infra.package $(STAGES)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .world build .pytest_cache .ruff_cache
