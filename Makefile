# Coffer — common tasks. `make help` lists them.
GO ?= go

.PHONY: help build run test test-sqlite fuzz bench lint check

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build ./coffer
	$(GO) build -o coffer ./cmd/coffer

run: ## start Coffer on SQLite in ./coffer-data
	$(GO) run ./cmd/coffer serve

test: ## the whole test suite on SQLite and PostgreSQL (starts local PostgreSQL if down)
	./scripts/test.sh

test-sqlite: ## the suite on SQLite only
	$(GO) test -race -count=1 ./...

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	./scripts/fuzz.sh $(or $(FUZZTIME),10s)

bench: ## Go benchmarks (engine alone); see README for `coffer bench`
	$(GO) test -run='^$$' -bench=. -benchtime=1x ./...

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...

check: lint test ## lint and the whole test suite
