# Casegold: the two commands of the README are `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := .uv/bin/uv
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv

.PHONY: help venv up down status test lint unit faults bench demo notices clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(UV):
	python3.11 -m venv .uv || python3 -m venv .uv
	.uv/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --python python3.11 --quiet
	@touch $@

venv: .venv/.synced ## create the virtualenv and install the locked dependencies

up: venv ## set up if needed and start everything (Kafka, PostgreSQL, topics, schema, services)
	@deploy/stack.sh up

down: ## stop everything `make up` started
	@deploy/stack.sh down

status: venv ## show what runs and where
	@deploy/stack.sh status

lint: venv ## ruff and mypy over the whole tree
	@deploy/stack.sh lint

test: venv ## the whole suite: lint, unit, integration against real Kafka and PostgreSQL
	@deploy/stack.sh test

unit: venv ## only the tests that need no server (fast)
	.venv/bin/pytest -m "not integration" -q

faults: venv ## the short fault run under load (tests/reliability/test_under_faults.py; a few minutes)
	@deploy/stack.sh faults

bench: venv ## the benchmarks of SPEC §8, each printing its figures
	@deploy/stack.sh bench

demo: venv ## realistic traffic against a running `make up` (policy deploy/policy/demo.yaml), then a summary
	.venv/bin/python -m tools.demo $(DEMO_ARGS)

notices: venv ## list the notices the local notice sink received
	.venv/bin/python -m tools.notice_sink list

.PHONY: report
report: venv ## write the weekly manager report to var/reports/ (WEEK=YYYY-Www; default last week)
	.venv/bin/python -m casegold_reporting.report $(if $(WEEK),--week $(WEEK))

clean: down ## stop everything and delete local state (broker data, logs, the database's tables)
	deploy/postgres/reset.sh
	rm -rf var
