# hubgate build, test and demo targets. `make test` is what CI (.ci/run) runs.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# Debian packages, grouped by what needs them so later work can extend a group.
DEPS_BUILD   := gcc libc6-dev                 # go test -race needs cgo
DEPS_TEST    := jupyterhub python3-django python3-django-oauth-toolkit nginx caddy redis-server
DEPS_ROOT    := mmdebstrap                    # builds the Debian 13 root (.ci/debian13-root)
DEPS_BROWSER := chromium                      # the browser suite, test/chromium*.go
DEPS_BENCH   := wrk
DEPS         := $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_ROOT) $(DEPS_BROWSER) $(DEPS_BENCH)

# The integration legs, HUB_VERSION/DOT_VERSION pairs (test/peers.go knows the
# releases and where each comes from). The first leg is the primary: JupyterHub 5.2
# and DOT 3.0 from the Debian 13 root run every suite; Debian 12's 3.0 and 1.7 run
# the core. A new release is one entry here and one line in test/peers.go.
LEGS ?= 5.2/3.0 3.0/1.7

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# `test` must run its steps in order (deps before anything that needs them).
.NOTPARALLEL:

.PHONY: deps build whoami check unit fuzz integration test demo clean

deps:
	@missing=; \
	for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(SUDO) bash .ci/debian13-root >/dev/null  # once; reused while .ci/debian13.packages is unchanged

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/hubgate .

whoami:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/whoami ./examples/whoami

# Tracked plus new, not-ignored files, so a change is checked before it is committed.
check:
	@unformatted=$$(git ls-files -z --cached --others --exclude-standard -- '*.go' | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags integration ./...
	bash .ci/check-dockerfile
	$(MAKE) --no-print-directory build
	bash .ci/check-systemd

unit:
	go test -race -count=1 ./...
	go test -run '^$$' -bench . -benchtime 100x ./...  # benchmarks keep compiling and running

# Each leg's wall time is printed as it ends, and all of them at the end.
integration: deps
	@summary=; for leg in $(LEGS); do \
		hub=$${leg%/*}; dot=$${leg#*/}; began=$$(date +%s); \
		echo "integration: JupyterHub $$hub, django-oauth-toolkit $$dot"; \
		HUB_VERSION=$$hub DOT_VERSION=$$dot go test -race -count=1 -tags integration -timeout 15m ./test/... || exit 1; \
		took=$$(( $$(date +%s) - began )); \
		echo "integration: JupyterHub $$hub / DOT $$dot passed in $${took}s"; \
		summary="$$summary  JupyterHub $$hub / DOT $$dot: $${took}s\n"; \
	done; printf "integration legs:\n$$summary"

# Each fuzz target for a bounded time; a crasher lands in testdata/fuzz, to be fixed
# and committed as a seed. .ci/fuzz says why one known Go failure is not a finding.
FUZZTIME ?= 20s
FUZZ_TARGETS := FuzzSafeRedirect:./proxy FuzzSkipAuthPath:./proxy FuzzCrossOrigin:./proxy FuzzReturnTo:./proxy FuzzSignInQuery:./proxy FuzzRouteFind:./proxy FuzzScrub:./upstream FuzzStripQueryTokens:./upstream FuzzLoad:./session FuzzConfigFile:./config

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t%%:*} for $(FUZZTIME)"; \
		bash .ci/fuzz $${t%%:*} $${t#*:} $(FUZZTIME) || exit 1; \
	done

test: deps check unit fuzz integration

demo: deps build whoami
	HUBGATE_BIN=$(CURDIR)/bin/hubgate WHOAMI_BIN=$(CURDIR)/bin/whoami demo/run

# oauth2-proxy, measured beside hubgate by `make bench`: built once from the Go module
# proxy into bin/ (ignored), as its release is built (CGO off, version stamped).
OAUTH2_PROXY_VERSION := v7.15.3
OAUTH2_PROXY := bin/oauth2-proxy-$(OAUTH2_PROXY_VERSION)/oauth2-proxy

$(OAUTH2_PROXY):
	@echo "bench: installing oauth2-proxy $(OAUTH2_PROXY_VERSION) into $(@D)"
	@out=$$(GOBIN=$(CURDIR)/$(@D) CGO_ENABLED=0 go install -trimpath \
		-ldflags "-X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$(OAUTH2_PROXY_VERSION)" \
		github.com/oauth2-proxy/oauth2-proxy/v7@$(OAUTH2_PROXY_VERSION) 2>&1) || { echo "$$out"; exit 1; }

# Load and micro-benchmarks against a bare reverse proxy and oauth2-proxy, on loopback;
# writes bench/results/latest.md. Not run by CI; BENCH_FLAGS passes options (bin/hubgate-bench -h).
.PHONY: bench
bench: deps build $(OAUTH2_PROXY)
	CGO_ENABLED=0 go build -trimpath -o bin/hubgate-bench ./bench
	bin/hubgate-bench -hubgate bin/hubgate -oauth2-proxy $(OAUTH2_PROXY) -out bench/results/latest.md $(BENCH_FLAGS)

clean:
	rm -rf bin test/output test/tmp
