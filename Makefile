# Every check CI runs is `make check` (alias `make ci`), so a CI failure
# reproduces locally with one command. `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# The checks build on each other (generate before diffing gen/, PostgreSQL
# before tests); run them one at a time even under make -j.
.NOTPARALLEL:

GO ?= go
# Go 1.26.10 fixes standard-library vulnerabilities that govulncheck finds
# reachable in 1.26.8. The go command fetches this toolchain from the module
# proxy on first use (about 10 s); machines set GOTOOLCHAIN=local, which
# would ignore go.mod's toolchain line, so make sets it for every command.
export GOTOOLCHAIN := go1.26.10
MODULE := github.com/verifykit/verifykit
# Tools that would clash with the main module's dependencies are pinned in
# tools/go.mod; -modfile runs them at those versions without touching go.mod.
STATICCHECK := $(GO) run -modfile=tools/go.mod honnef.co/go/tools/cmd/staticcheck
# golangci-lint has a module of its own, tools/golangci/go.mod: in tools/go.mod
# it and oasdiff/staticcheck would raise each other's dependencies (see
# tools/golangci/tools.go). It takes about two minutes to compile, so
# golangci-lint-bin builds it once into bin/ and again only when the version
# pinned there, or the Go toolchain, differs from what the binary reports.
GOLANGCI_LINT := bin/golangci-lint
GOLANGCI_LINT_MOD := github.com/golangci/golangci-lint/v2
# How long each fuzz target runs: `make fuzz` (long) and `make fuzz-short` (CI).
FUZZTIME ?= 2m
FUZZTIME_SHORT ?= 10s
# Packages a client program imports; they must stay free of echo and kin-openapi.
CLIENT_PKGS := ./gen/verifyclient ./gen/models
# How long each Go benchmark runs, and flags for the load benchmark
# (bin/verifybench -help lists them: -rounds, -duration, -conns, ...).
BENCHTIME ?= 2s
LOAD_ARGS ?= -rounds 7 -duration 3s -create-duration 5s -memory-duration 60s
# Extra arguments for `make run`, e.g. make run ARGS='-addr 127.0.0.1:9090'.
ARGS ?=
# How long `make soak` runs the soak test (cmd/verifyd/soak_test.go), and extra go test
# flags for it, e.g. SOAK_FLAGS=-race. `make test` runs it for 5s.
SOAK_DURATION ?= 60s
SOAK_FLAGS ?=

.PHONY: help generate check-generated tidy-check fmt-check vet staticcheck \
	golangci-lint-bin golangci-lint client-deps ctl-deps lint-spec lint breaking test \
	test-go fuzz fuzz-short bench bench-smoke bench-go bench-load screenshots soak vuln run \
	check ci

help: ## List the targets
	@echo "Usage: make TARGET"
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

generate: ## Regenerate gen/ from openapi.yaml and internal/docsui/assets/ from swagger-ui-dist (go generate ./...)
	$(GO) generate ./...

# The generated trees: gen/ from openapi.yaml, and the Swagger UI files that
# internal/docsui embeds, copied from the swagger-ui-dist that package.json pins.
GENERATED := gen/ internal/docsui/assets/

check-generated: generate ## Fail if regenerating changes anything under gen/ or internal/docsui/assets/
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ] || ! git diff --quiet -- $(GENERATED); then \
		echo "check-generated: $(GENERATED) out of date with openapi.yaml or package.json; run make generate and commit:"; \
		git status --porcelain -- $(GENERATED); \
		git --no-pager diff --stat -- $(GENERATED); \
		git --no-pager diff -- gen/; \
		exit 1; \
	fi
	@echo "check-generated: $(GENERATED) up to date"

tidy-check: ## Fail if go.mod/go.sum (main, tools/, tools/golangci/ and cmd/verifybench/peers/) are not tidy
	$(GO) mod tidy -diff
	$(GO) -C tools mod tidy -diff
	$(GO) -C tools/golangci mod tidy -diff
	$(GO) -C cmd/verifybench/peers mod tidy -diff

fmt-check: ## Fail if any hand-written .go file is not gofmt-ed
	@files="$$(find . \( -path ./.git -o -path ./node_modules -o -path ./tmp -o -path ./bin \) -prune \
		-o -type f -name '*.go' ! -name '*.gen.go' -print)"; \
	bad="$$(if [ -n "$$files" ]; then gofmt -l $$files; fi)"; \
	if [ -n "$$bad" ]; then echo "fmt-check: run gofmt -w on:"; echo "$$bad"; exit 1; fi
	@echo "fmt-check: ok"

vet: ## go vet ./..., and in the peers' own module (cmd/verifybench/peers)
	$(GO) vet ./...
	$(GO) -C cmd/verifybench/peers vet ./...

staticcheck: ## staticcheck (pinned in tools/go.mod) on every package outside gen/
	@all="$$($(GO) list ./...)"; \
	pkgs="$$(grep -Ev '^$(MODULE)/gen(/|$$)' <<<"$$all" || true)"; \
	if [ -z "$$pkgs" ]; then echo "staticcheck: no hand-written packages yet"; exit 0; fi; \
	echo "$(STATICCHECK) <packages outside gen/>"; \
	$(STATICCHECK) $$pkgs
	@echo "staticcheck: ok"

golangci-lint-bin: ## Build bin/golangci-lint at the version tools/golangci/go.mod pins, unless it is there
	@want="$$($(GO) -C tools/golangci list -m -f '{{.Version}}' $(GOLANGCI_LINT_MOD))"; \
	want="$${want#v} built with $$($(GO) env GOVERSION)"; \
	have="$$($(GOLANGCI_LINT) version 2>/dev/null || true)"; \
	if [[ $$have != *"has version $$want "* ]]; then \
		echo "golangci-lint-bin: building $(GOLANGCI_LINT) $$want (about two minutes on a cold build cache)"; \
		mkdir -p $(dir $(GOLANGCI_LINT)); \
		$(GO) -C tools/golangci build -o $(CURDIR)/$(GOLANGCI_LINT).new $(GOLANGCI_LINT_MOD)/cmd/golangci-lint; \
		mv $(GOLANGCI_LINT).new $(GOLANGCI_LINT); \
	fi

# depguard in .golangci.yml checks the import arrows of the design, gen/
# included: there it is the only linter whose findings count. It sees each
# package's own imports; client-deps below stays because it also catches echo
# or kin-openapi that arrive through a dependency of the generated client.
golangci-lint: golangci-lint-bin ## golangci-lint (.golangci.yml): govet, staticcheck, revive, errorlint, errcheck, gosec, depguard's import rules
	$(GOLANGCI_LINT) run ./...
	cd cmd/verifybench/peers && $(abspath $(GOLANGCI_LINT)) run ./...

client-deps: ## Fail if gen/verifyclient or gen/models depend on echo or kin-openapi
	@deps="$$($(GO) list -deps $(CLIENT_PKGS))"; \
	bad="$$(grep -E '^github\.com/(labstack/echo|getkin/kin-openapi)(/|$$)' <<<"$$deps" || true)"; \
	if [ -n "$$bad" ]; then \
		echo "client-deps: $(CLIENT_PKGS) must not depend on echo or kin-openapi, but they import:"; \
		echo "$$bad"; \
		exit 1; \
	fi
	@echo "client-deps: ok (no echo, no kin-openapi)"

ctl-deps: ## Fail if cmd/verifyctl depends on internal/store (and so links a database engine)
	@deps="$$($(GO) list -deps ./cmd/verifyctl)"; \
	bad="$$(grep -E '^$(MODULE)/internal/store(/|$$)' <<<"$$deps" || true)"; \
	if [ -n "$$bad" ]; then \
		echo "ctl-deps: ./cmd/verifyctl must not depend on internal/store, but it imports:"; \
		echo "$$bad"; \
		exit 1; \
	fi
	@echo "ctl-deps: ok (verifyctl links no store)"

lint-spec: ## Lint openapi.yaml with Spectral and Redocly (warnings fail)
	scripts/lint-spec.sh

lint: fmt-check vet staticcheck golangci-lint lint-spec client-deps ctl-deps ## All linters: fmt-check vet staticcheck golangci-lint lint-spec client-deps ctl-deps

breaking: ## Fail on breaking changes to openapi.yaml against BREAKING_BASE (default HEAD~1)
	scripts/breaking.sh

# PostgreSQL: unless VERIFYKIT_TEST_POSTGRES already names a server, start a
# throwaway one on 127.0.0.1 and stop it again however the tests end.
test: ## Run all tests with -race against a throwaway PostgreSQL
	@if [ -n "$${VERIFYKIT_TEST_POSTGRES:-}" ]; then \
		echo "test: using VERIFYKIT_TEST_POSTGRES from the environment"; \
	else \
		trap 'scripts/postgres.sh stop >/dev/null 2>&1' EXIT; \
		VERIFYKIT_TEST_POSTGRES="$$(scripts/postgres.sh start)"; \
		export VERIFYKIT_TEST_POSTGRES; \
	fi; \
	echo "$(GO) test -race -count=1 ./..."; \
	$(GO) test -race -count=1 ./...

test-go: ## Run go test -race without starting PostgreSQL (quick local runs)
	$(GO) test -race -count=1 ./...

# fuzz and fuzz-short find every Fuzz* target with go test -list, which prints
# a package's matching names and then an "ok <package>" line; go test -fuzz
# takes one package and one target at a time.
fuzz: ## Run every Fuzz* target for FUZZTIME (default 2m) each
	scripts/fuzz.sh $(FUZZTIME)

fuzz-short: ## Run every Fuzz* target for 10s each (CI)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_SHORT)

bench: bench-go bench-load ## Every benchmark: Go microbenchmarks, then the loopback load benchmark

bench-go: ## Go microbenchmarks with -benchmem (BENCHTIME, default 2s), the peers' module's too
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) ./...
	$(GO) -C cmd/verifybench/peers test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) ./...

bench-load: ## Load benchmark, cores pinned: verifyd, a plain net/http baseline, the bare generated echo server, and the ogen and echo+OapiRequestValidator peers, interleaved rounds
	$(GO) build -o bin/verifyd ./cmd/verifyd
	$(GO) build -o bin/verifybench ./cmd/verifybench
	$(GO) -C cmd/verifybench/peers build -o ../../../bin/ ./peer-ogen ./peer-echo
	bin/verifybench -verifyd bin/verifyd $(LOAD_ARGS)

bench-smoke: ## Run each benchmark once, and the load benchmark for a second, to prove they still work
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...
	$(GO) -C cmd/verifybench/peers test -run '^$$' -bench . -benchtime=1x ./...
	$(MAKE) --no-print-directory bench-load LOAD_ARGS='-rounds 1 -duration 1s -create-duration 1s -memory-duration 2s'

screenshots: ## Rewrite test-output/*.png from the browser tests (headless Chromium)
	$(GO) test -count=1 -run 'Browser' ./api -screenshots

soak: ## Run the soak test for SOAK_DURATION (default 60s; make test runs 5s)
	$(GO) test $(SOAK_FLAGS) -count=1 -run '^TestSoak$$' -v ./cmd/verifyd -soak.duration=$(SOAK_DURATION)

vuln: ## govulncheck, offline, against a database built from golang.org/x/vulndb
	scripts/vuln.sh

run: ## Run verifyd locally (ARGS='...' passes flags)
	$(GO) run ./cmd/verifyd $(ARGS)

# test runs last so that CI's log ends with go test's own summary lines; it
# includes the 5s soak test.
check: check-generated tidy-check lint breaking vuln fuzz-short bench-smoke test ## Everything CI runs

ci: check ## Alias of check: CI runs exactly this
