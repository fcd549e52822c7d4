# refrecon: `make run` runs the job on the built-in fixtures, `make test` runs
# every check CI runs. See README.md.
GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
BIN         := bin/refrecon
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.codeVersion=$(VERSION)
FUZZTIME    ?= 20000x

.PHONY: all build run test vet staticcheck gotest fuzz bench bench-anchor bench-ab bench-go golden clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/refrecon

# The main job on the built-in fixtures (embedded in the binary). Outputs go
# to ./out: public JSON in out/public, CSV in out/private, out/warehouse.sqlite.
run: build
	AS_OF=$${AS_OF:-2026-04-15T00:00:00Z} ./$(BIN) run

test: vet staticcheck gotest fuzz

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

# Every test under the race detector: the job reads, writes and publishes
# from several goroutines at once. -race needs cgo (gcc); .ci/run installs it.
# The local directory driver's portable code (every system but Linux) runs
# on Linux too, under the localdir_portable tag.
gotest:
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...
	$(GO) test -count=1 -tags localdir_portable ./sinks/public/localdir/ ./sinks/public/

# Each fuzz target briefly, on top of its seed corpus in testdata/fuzz. The
# budget is a count of inputs (20000x), not a duration: with a duration, Go
# 1.26's fuzz coordinator can fail at the deadline with a bare "context
# deadline exceeded" and no failing input (go.dev/issue/75804, fixed in 1.27).
fuzz:
	@for t in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/func //' | sort -u); do \
	  pkg=$$(dirname $$(grep -rlE "^func $$t\(" --include='*_test.go' . | head -1)); \
	  echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	  $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

# make bench compares with the DuckDB anchor when node and the anchor are
# installed (ANCHOR_DIR, default .bench/anchor; it says how to install them
# otherwise). bench-anchor is that comparison alone, at 1M referrals, 3
# rounds of refrecon cold, anchor, refrecon next night (docs/performance.md,
# "How to reproduce"); BENCHFLAGS="--sizes 10000" for a dry run.
bench: build
	$(GO) run ./cmd/refrecon-bench --build=false $(BENCHFLAGS)

bench-anchor: build
	$(GO) run ./cmd/refrecon-bench --build=false --sizes 1000000 --count 3 --go-bench=false $(BENCHFLAGS)

# bench-ab times the next night of bin/refrecon (A) against AGAINST (B), a
# `make build` of the other commit: one cold run each, then 4 rounds over
# copies of it, in the order A B, B A, A B, B A (docs/performance.md,
# "Measuring"); BENCHFLAGS="--sizes 10000 --count 2" for a dry run.
bench-ab: build
	@test -n "$(AGAINST)" || { echo "usage: make bench-ab AGAINST=path/to/other/refrecon (a make build of the other commit)"; exit 2; }
	$(GO) run ./cmd/refrecon-bench --build=false --sizes 1000000 --count 4 --against $(AGAINST) $(BENCHFLAGS)

bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem ./pipeline/...

# Regenerate every golden file after a reviewed change of output: the tests
# of each package whose tests define the -update flag, run with it (the
# other packages would refuse the flag). Nothing changed: a clean tree.
GOLDEN_PKGS = $(shell grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=.bench --exclude-dir=out 'flag\.Bool[^"]*"update",' . | xargs -r -n1 dirname | sort -u)

golden:
	@test -n "$(GOLDEN_PKGS)" || { echo "no package defines -update"; exit 1; }
	$(GO) test -count=1 $(GOLDEN_PKGS) -update

clean:
	rm -rf bin out .bench
