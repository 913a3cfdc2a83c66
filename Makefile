# Test entry points of the broker. `make test` is what CI runs (.ci/run):
# dependencies, vet, unit tests with the race detector, a short fuzz pass over
# the protocol decoders, then the end-to-end suite against the real binary.
# Tools fetched by `deps` are cached under .cache/ (ignored by git).

GO        ?= go
CACHE     ?= $(CURDIR)/.cache
FUZZTIME  ?= 10s
UNIT_PKGS  = $(shell $(GO) list ./... | grep -v '/integration')

.PHONY: test deps vet build unit fuzz integration compat compat-doc

test: deps vet unit fuzz integration

deps:
	mkdir -p $(CACHE)
	$(GO) mod download
	./scripts/install-zookeeper.sh $(CACHE)/zookeeper
	./scripts/deps.sh

vet:
	$(GO) vet ./...

build:
	$(GO) build ./...

unit:
	$(GO) test -race -count=1 $(UNIT_PKGS)

# Every Fuzz* target of every package under ./protocol, FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./protocol/...); do \
		list=$$($(GO) test -list 'Fuzz.*' $$pkg); \
		for f in $$(echo "$$list" | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

integration: build
	$(GO) test -count=1 -timeout 20m ./integration/...

# The stock tools and clients suite alone (integration/compat_*_test.go).
compat: build
	$(GO) test -count=1 -timeout 20m -run 'TestCompat' ./integration/...

# Runs the compatibility suite, recording each flow's outcome, and regenerates
# docs/compatibility.md from that run (with the broker's ApiVersions answer).
compat-doc: build
	rm -f $(CACHE)/compat-results.jsonl
	-KBROKER_COMPAT_RESULTS=$(CACHE)/compat-results.jsonl $(GO) test -count=1 -timeout 20m -run 'TestCompat' ./integration/...
	$(GO) run ./scripts/compatdoc -results $(CACHE)/compat-results.jsonl -out docs/compatibility.md
