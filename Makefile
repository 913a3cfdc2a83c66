# Test entry points of the broker. `make test` is what CI runs (.ci/run):
# dependencies, vet, unit tests with the race detector, a short fuzz pass over
# the protocol decoders, then the end-to-end suite against the real binary,
# then the benchmark smoke (both brokers, tiny sizes, about a minute).
# Tools fetched by `deps` are cached under .cache/ (ignored by git).

GO        ?= go
CACHE     ?= $(CURDIR)/.cache
FUZZTIME  ?= 40000x
UNIT_PKGS  = $(shell $(GO) list ./... | grep -v '/integration')

.PHONY: test deps vet build unit fuzz integration compat compat-doc soak

test: deps vet unit fuzz integration bench-smoke

deps:
	mkdir -p $(CACHE)
	$(GO) mod download
	./scripts/install-zookeeper.sh $(CACHE)/zookeeper
	./scripts/deps.sh

vet:
	$(GO) vet ./...
	$(GO) vet -tags soak ./integration

build:
	$(GO) build ./...

unit:
	$(GO) test -race -count=1 $(UNIT_PKGS)

# Every Fuzz* target of every package under ./protocol, FUZZTIME each. The budget is an
# execution count, not a duration: a duration lets a loaded machine end a run with
# "context deadline exceeded" while a worker is still busy, which is not a finding.
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

# The fault soak (integration/soak_test.go, build tag soak): a three-broker cluster under an
# acks=all idempotent producer and SOAK_FAULTS random process faults (kill -9, SIGSTOP past the
# session timeout, SIGTERM and restart; of the controller, leaders and followers). About 20 s
# a fault. Figures go to $(CACHE)/soak/results.md; docs/soak.md has a run's.
SOAK_FAULTS ?= 100
soak: build
	mkdir -p $(CACHE)/soak
	KBROKER_SOAK_FAULTS=$(SOAK_FAULTS) KBROKER_SOAK_OUT=$(CACHE)/soak/results.md \
		$(GO) test -tags soak -count=1 -timeout 4h -run TestSoakFaults -v ./integration/

# The stock tools and clients suite alone (integration/compat_*_test.go).
compat: build
	$(GO) test -count=1 -timeout 20m -run 'TestCompat' ./integration/...

# Runs the compatibility suite, recording each flow's outcome, and regenerates
# docs/compatibility.md from that run (with the broker's ApiVersions answer).
compat-doc: build
	rm -f $(CACHE)/compat-results.jsonl
	-KBROKER_COMPAT_RESULTS=$(CACHE)/compat-results.jsonl $(GO) test -count=1 -timeout 20m -run 'TestCompat' ./integration/...
	$(GO) run ./scripts/compatdoc -results $(CACHE)/compat-results.jsonl -out docs/compatibility.md

# Side-by-side benchmark of this broker and Apache Kafka 3.9 in ZooKeeper mode
# (cmd/kbench, package bench): builds the broker, kload and kbench, prints the
# table and writes it to $(CACHE)/bench/results.md (+ .json). bench-smoke runs
# every step with tiny sizes against both brokers (70-100 s here, part of
# `make test`) and asserts nothing about speed; integration/bench_smoke_test.go
# runs it against our broker alone.
KAFKA3_VERSION = $(shell sed -n 's/^KAFKA_3_VERSION=//p' scripts/versions.env)
BENCH_BIN      = $(CACHE)/bench/bin
BENCH_ARGS     = -broker $(BENCH_BIN)/broker -kload $(BENCH_BIN)/kload \
	-kafka-lib $(CACHE)/kafka-$(KAFKA3_VERSION)/lib -kafka-log4j $(CACHE)/kafka-$(KAFKA3_VERSION)/log4j.properties \
	-zk $(CACHE)/zookeeper/bin/zk-server -work $(CACHE)/bench/work
# Extra kbench flags for `make bench`, e.g. BENCH_FLAGS="-no-scale -rounds 5".
BENCH_FLAGS   ?=

.PHONY: bench bench-smoke bench-bin

bench-bin:
	mkdir -p $(BENCH_BIN)
	$(GO) build -o $(BENCH_BIN)/broker ./cmd/broker
	$(GO) build -o $(BENCH_BIN)/kload ./cmd/kload
	$(GO) build -o $(BENCH_BIN)/kbench ./cmd/kbench

bench: bench-bin
	$(BENCH_BIN)/kbench $(BENCH_ARGS) $(BENCH_FLAGS) -out $(CACHE)/bench/results.md -json-out $(CACHE)/bench/results.json

# How long a 10-member group takes to settle after an 11th member joins, classic protocol
# against KIP-848, on the broker binary, and how long consumption of partitions that keep
# their owner stops (integration/kip848_bench_test.go; about 15 minutes; figures in
# docs/benchmarks.md).
.PHONY: bench-groups
bench-groups: build
	$(GO) test -count=1 -timeout 30m -run '^$$' -bench 'BenchmarkGroupJoinSettle' -benchtime 5x ./integration/

bench-smoke: bench-bin
	$(BENCH_BIN)/kbench -smoke $(BENCH_ARGS)
