# okbreak: every target sets the environment testcontainers-go needs here
# (loopback only, no Ryuk: see README "Configuration").
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1
export TESTCONTAINERS_RYUK_DISABLED ?= true
export OKBREAK_DATA_PLANE ?= grpc

GO      ?= go
# Reports name okbreak's version: stamp the checkout's revision when there is
# one (go run stamps nothing by default).
VCSFLAG := $(if $(wildcard .git),-buildvcs=true,)
# Packages that start stacks run one at a time (-p 1); inside a package, at
# most PARALLEL stacks at once: the catalog tests' own stacks side by side
# (scenarios: catalogStacks), then the t.Parallel tests PARALLEL at a time.
# Measured on 2 cores: two stacks at once keep every verdict (README,
# "Measured"); more fight over the cores. The timeout is explicit: go test's
# default (10m) panics past t.Cleanup and would leave containers behind.
PARALLEL ?= 2
TESTFLAGS ?= -p 1 -parallel $(PARALLEL) -timeout 55m -count=1

.PHONY: test run up images bench lint compose stability deps promtool fuzz kill-trials

# promtool, built from the Prometheus version of the embedded rule engine
# (tools/promtool), cached under the user's cache folder by a hash of that
# module's go.mod and go.sum: a cold build takes minutes on 2 cores.
PROMTOOL_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/okbreak
PROMTOOL = $(PROMTOOL_CACHE)/promtool-$(shell cat tools/promtool/go.mod tools/promtool/go.sum | sha256sum | cut -c1-16)
# Where the incidents' cases write their promtool rule tests during make
# test; promtool then runs them.
RULE_TEST_DIR ?= $(or $(TMPDIR),/tmp)/okbreak-rule-tests

test: deps promtool ## run every test (unit and stack integration), then the team module of testdata/shop, then promtool on the rule tests the incidents wrote; builds images as needed
	rm -rf $(RULE_TEST_DIR)
	OKBREAK_PROMTOOL=$(PROMTOOL) OKBREAK_RULE_TEST_DIR=$(RULE_TEST_DIR) $(GO) test $(TESTFLAGS) ./...
	cd testdata/shop && $(GO) test $(TESTFLAGS) ./...
	scripts/rule-tests $(PROMTOOL) $(RULE_TEST_DIR)

promtool: ## build promtool from the engine's Prometheus version (cached by its inputs' hash)
	@if [ ! -x $(PROMTOOL) ]; then \
	  echo "building promtool from tools/promtool (once per version; minutes on 2 cores)"; \
	  mkdir -p $(PROMTOOL_CACHE) && cd tools/promtool && $(GO) build -o $(PROMTOOL).tmp github.com/prometheus/prometheus/cmd/promtool && mv $(PROMTOOL).tmp $(PROMTOOL); \
	fi
	@echo "promtool: $(PROMTOOL)"

# The HTML report's browser test needs Debian's chromium: installed here when
# missing and we can (root with apt-get); otherwise that one test is skipped
# with the fix printed (and fails under CI=true).
deps: ## install what the tests need beyond Go and Docker (chromium, docker-compose)
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (the HTML report's browser test, the compose renderings' check)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/tmp/okbreak-apt.log 2>&1 \
	      || { tail -20 /tmp/okbreak-apt.log; echo "could not install$$missing"; exit 3; }; \
	  else \
	    echo "missing$$missing: the tests that need them will be skipped (apt-get install$$missing)"; \
	  fi; \
	fi

run: ## the main job: bring the default stack up (PARALLEL stacks, default 2) and run the whole catalog
	$(GO) run $(VCSFLAG) ./cmd/okbreak run --data-plane $(OKBREAK_DATA_PLANE) --parallel $(PARALLEL)

up: ## bring the default stack up; Ctrl-C tears it down
	$(GO) run ./cmd/okbreak up --data-plane $(OKBREAK_DATA_PLANE)

images: ## build (or reuse) every component image, tagged okbreak/<name>:latest
	$(GO) run ./cmd/okbreak images

stability: ## run the whole catalog RUNS times in a row (default 5) as make run does; verdicts appended to docs/stability.log
	scripts/stability $(or $(RUNS),5) --data-plane $(OKBREAK_DATA_PLANE) --parallel $(PARALLEL)

kill-trials: ## SIGKILL okbreak run --attach on a stack of okbreak up at TRIALS random points (default 20; SEED=n repeats them), okbreak recover, check the stack each time
	scripts/kill-trials $(or $(TRIALS),20) $(SEED)

bench: ## warm start of the whole default stack and of the shop from its stack file; parsing a stack file and the default one
	$(GO) test ./harness/stack -run '^$$' -bench StackUp -benchtime 3x -timeout 20m
	$(GO) test ./harness/stackfile -run '^$$' -bench 'BenchmarkLoad|BenchmarkShopUp' -benchmem -benchtime 3x -timeout 20m
	$(GO) test ./sample -run '^$$' -bench BenchmarkStackFile -benchmem

compose: ## regenerate docker-compose.yml and fixtures/compose/ from the stack definition
	$(GO) run ./cmd/okbreak compose --data-plane grpc --dir .

# Each parser's fuzz target for FUZZTIME (default 2m). New failing inputs
# land in the package's testdata/fuzz/, which go test then runs as ordinary
# cases (CI runs the kept corpus that way, never the fuzzer).
FUZZTIME ?= 2m
fuzz: ## fuzz every parser (catalog, stack file, incident file, environment file) for FUZZTIME each, outside CI
	$(GO) test ./harness/catalog -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./harness/stackfile -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./harness/stackfile -run '^$$' -fuzz '^FuzzLoadFiles$$' -fuzztime $(FUZZTIME)
	$(GO) test ./harness/incident -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./harness/envfile -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)

lint: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
