# mailcal: build, run and test. `make help` lists the targets.
GO       ?= go
BIN      ?= bin/mailcal
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
NPM_DIR  := testdata/npm
NPM_DONE := $(NPM_DIR)/node_modules/.installed

.PHONY: help build run test test-short test-deps fuzz lint bench clean

# Fuzz targets: PACKAGE:TARGET. `make fuzz` gives each FUZZTIME. The
# budget is a count of inputs, not a duration: Go 1.26's coordinator can
# report a spurious "context deadline exceeded" when a duration runs out
# while a worker is mid-input (golang/go#75804, fixed in Go 1.27).
FUZZ     := ./providers/mimemsg:FuzzBuild ./providers/mimemsg:FuzzParseAddress \
            ./providers/htmltext:FuzzConvert ./tools:FuzzSendArgs \
            ./providers/quoted:FuzzText ./providers/quoted:FuzzHTML
FUZZTIME ?= 100000x

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

# build and run print nothing on stdout: `make run` speaks MCP there.
build: ## build bin/mailcal
	@echo '$(GO) build -o $(BIN) ./cmd/mailcal' >&2
	@$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mailcal >&2

run: build ## serve MCP on stdio with the default keyring, as a desktop assistant would
	@exec ./$(BIN) serve

test: test-deps ## every test, end-to-end and PostgreSQL ones included, with the race detector, then a short fuzz run
	MAILCAL_E2E_REQUIRE=1 MAILCAL_REQUIRE_POSTGRES=1 $(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

fuzz: ## run each fuzz target for FUZZTIME (default 100000x: that many inputs)
	@for f in $(FUZZ); do pkg=$${f%%:*}; target=$${f##*:}; \
	  echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

test-short: ## unit tests only (no binary, no npm clients)
	$(GO) test -race -short ./...

test-deps: $(NPM_DONE) ## install the pinned npm test clients (MCP Inspector CLI, conformance suite)

$(NPM_DONE): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	npm ci --prefix $(NPM_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: ## benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean: ## remove build output and installed test clients
	rm -rf bin $(NPM_DIR)/node_modules
