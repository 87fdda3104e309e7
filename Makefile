# Ankurah for Go. `make test` is what CI runs (see .ci/run).
GO ?= go

.PHONY: bench-policy inspector test lint vet tidy staticcheck ts-test yjs-test e2e build image bench bench-commit bench-load bench-throughput bench-embedded bench-adopt fuzz

# say prints what a long step is doing before it starts.
say = @echo "== $(1)" >&2

## test: the gates (lint), every Go test with the race detector against a throwaway Postgres cluster, then the TypeScript unit tests
test: lint
	$(call say,go test -race: every package against a throwaway PostgreSQL (a line per package as it finishes))
	./test/with-postgres.sh $(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory ts-test
	$(call say,yjs: internal/yjs against the real yjs npm package)
	$(MAKE) --no-print-directory yjs-test

## lint: gofmt, go vet, go mod tidy leaving no diff, staticcheck (zero findings; exceptions are justified in staticcheck.conf)
lint: vet tidy staticcheck

## ts-test: type-check (sources and tests) and unit-test the TypeScript client (npm workspaces; packages from the npm registry; the example is type-checked by its build in make e2e)
ts-test: build
	$(call say,npm ci: the TypeScript packages)
	npm ci --no-audit --no-fund --loglevel=error
	$(call say,tsc: type-checking the TypeScript client)
	npm run typecheck --silent -w @ankurah/client
	$(call say,the inspector page: type-checked; internal/inspect/dist must be the build of its sources)
	npm run typecheck --silent -w @ankurah/inspector
	npm run check --silent -w @ankurah/inspector
	$(call say,vitest: the TypeScript client's tests (one against a real server: bin/ankurah))
	ANKURAH_BIN=$(CURDIR)/bin/ankurah npm test

## yjs-test: package internal/yjs against the real yjs npm package, 1,000 random traces (needs ts-test's npm ci; YJS_SEED=N replays)
yjs-test:
	YJS_ORACLE=required $(GO) test -count=1 -run '^TestDifferential$$' ./internal/yjs

## inspector: rebuild the inspector page's script into internal/inspect/dist/inspector.js (embedded by go build; commit the result)
inspector:
	npm ci --no-audit --no-fund --loglevel=error
	npm run build --silent -w @ankurah/inspector

## e2e: the web client and the inspector in Debian's chromium (playwright-core) against ankurah serve on a throwaway Postgres (the inspector also on the embedded store)
e2e:
	./test/e2e/run.sh

vet:
	$(call say,gofmt and go vet (the first run downloads the Go modules))
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

tidy:
	$(call say,go mod tidy -diff)
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

# staticcheck comes from the Go module proxy, pinned (0.8.2 is staticcheck 2026.2.2, which supports Go 1.26).
STATICCHECK_VERSION ?= v0.8.2
staticcheck:
	$(call say,staticcheck $(STATICCHECK_VERSION))
	@$(GO) version -m bin/staticcheck 2>/dev/null | grep -q 'honnef.co/go/tools[[:space:]]*$(STATICCHECK_VERSION)' || GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	bin/staticcheck ./...

## build: bin/ankurah, stamped with the commit (ankurah version)
build:
	$(GO) build -ldflags "-X main.commit=$$(git rev-parse HEAD 2>/dev/null)" -o bin/ankurah ./cmd/ankurah

## image: the Dockerfile's final stage built with buildah from a local static binary, no engine, no pull (test/image.sh; docs/docker.md)
image:
	./test/image.sh

## bench-commit: API commits vs raw INSERTs, interleaved runs and their median ratio
bench-commit:
	./test/bench-commit.sh

## bench-adopt: trigger overhead on an adopted table (pgbench, mixed INSERT/UPDATE/DELETE, adopted vs plain in the same run) and the backfill rate on 1M rows (docs/benchmarks.md)
bench-adopt: build
	./test/bench-adopt.sh

## bench-load: write→client latency with 1,000 connections × 10 subscriptions at 1,000 writes/s, and the bare consumer's (ankurah bench)
bench-load: build
	./test/with-postgres.sh sh -c 'bin/ankurah bench --database-url "$$TEST_DATABASE_URL" $(BENCH_FLAGS)'

## bench-throughput: a backlog drained through 1k, 10k and 100k subscriptions, against a bare consumer (ankurah bench --mode throughput)
bench-throughput: build
	./test/with-postgres.sh sh -c 'for s in 1 10 100; do bin/ankurah bench --database-url "$$TEST_DATABASE_URL" --mode throughput --conns 1000 --subs $$s $(BENCH_FLAGS) || exit 1; done'

## bench-policy: 10,000 subscriptions draining a backlog with the per-user rule owner = $jwt.sub and without a policy, alternating, three rounds; then the cost of verifying a token
bench-policy: build
	./test/with-postgres.sh sh -c 'for r in 1 2 3; do for p in "" --policy; do bin/ankurah bench --database-url "$$TEST_DATABASE_URL" --mode throughput --conns 1000 --subs 10 $$p $(BENCH_FLAGS) | grep -E "policy:|load average|  server:|  clients:|deliveries:" || exit 1; done; done'
	$(GO) test -run '^$$' -bench Verify -benchtime 2s ./server/auth/

## bench: the benchmarks behind docs/benchmarks.md
bench:
	./test/with-postgres.sh $(GO) test -run '^$$' -bench . -benchmem ./...

## bench-embedded: the embedded SQLite store vs bbolt and Pebble (test/embedcompare, a module of its own; no cgo)
bench-embedded:
	cd test/embedcompare && CGO_ENABLED=0 $(GO) test -run '^$$' -bench . -benchmem

## fuzz: a longer fuzzing run of every fuzz target (FUZZTIME=1m by default)
FUZZTIME ?= 1m
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

