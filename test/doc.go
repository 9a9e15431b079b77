//go:build integration

// Package integration tests the hubgate binary against real peers on
// loopback: a real JupyterHub with its configurable-http-proxy, a real
// upstream app (echo + WebSocket), a scripted browser and plain API clients.
//
// # Requirements
//
// Debian 12 packages: jupyterhub 3.0 (with node-configurable-http-proxy),
// python3-django 3.2 and python3-django-oauth-toolkit 1.7, nginx,
// chromium and redis-server, the Python ones run on /usr/bin/python3 — never a pyenv or virtualenv python — plus Go
// with cgo for -race (gcc, libc6-dev) and util-linux's setpriv and unshare.
// JupyterHub 5.2 and DOT 3.0 (Django 4.2) come from Debian 13, in a root that
// .ci/debian13-root builds with mmdebstrap into a cache folder outside the
// checkout (once; reused while .ci/debian13.packages is unchanged). Without
// a peer the tests fail (they never skip): install them with
//
//	apt-get install -y jupyterhub python3-django python3-django-oauth-toolkit nginx chromium redis-server mmdebstrap
//	bash .ci/debian13-root
//
// or run `make test`, which installs the dependencies first. No network
// access is needed after that; everything binds to 127.0.0.1 on free ports
// and keeps its files in temp dirs (inside the root for the peers there).
//
// # Running
//
//	go test -race -tags integration -count=1 ./test/...                              # JupyterHub 5.2, DOT 3.0
//	HUB_VERSION=3.0 DOT_VERSION=1.7 go test -race -tags integration -count=1 ./test/... # Debian 12's
//
// peers.go lists the releases: the primary one runs every suite, the others
// the core (a full-suite test skips there, saying so). HUB_CMD and
// DJANGO_PYTHON point the suite at a JupyterHub or a Django installed another
// way; every leg checks that the peer is the version it names.
//
// The hubgate binary is built once per run from the module root. Set
// HUBGATE_TEST_RACE=1 to build it with the race detector too. A failing
// test prints the logs of the Hub and of every hubgate it started.
//
// # Layout
//
// The harness is meant to be reused by the suites for other providers:
//
//   - peers.go: the releases, the Debian 13 root and running commands in it
//     (chroot, in a mount namespace of their own for /proc and /dev).
//
//   - process.go: child processes in their own process group, logged to a
//     file, stopped (with any escaped descendants) when the test ends.
//
//   - network.go: free ports, secrets, polling until something answers.
//
//   - hub.go, hub_config.go: a real JupyterHub from a templated config, with
//     an admin service token to create and revoke user tokens.
//
//   - browser.go, html_forms.go: a scripted browser that follows redirects
//     and fills in the Hub's login and "Authorize access" forms.
//
//   - upstream.go, websocket.go: the echo app behind hubgate and a minimal
//     RFC 6455 client and server.
//
//   - hubgate.go: builds and starts hubgate from HUBGATE_* variables.
//
//   - counting_proxy.go: counts the requests hubgate makes to the Hub API.
//
//   - requests.go: plain API requests and the shared identity checks.
//
//   - nginx.go: nginx from examples/nginx/hubgate.conf.tmpl, as tested.
//
//   - chromium.go, chromium_upstream.go: headless Chromium driven by chromedp,
//     screenshots under test/output/chromium/.
//
//   - fault_harness.go: killing the Hub, slow proxies, metrics parsing.
//
//   - django.go, django_project.go, django_browser.go: a real Django site
//     with django-oauth-toolkit, written into a temp dir, and its login form.
//
//   - balancer.go, replicas.go: three hubgate replicas behind a round-robin
//     balancer that can pin a request to one replica, sharing a real
//     redis-server (internal/redistest).
//
//   - routes_harness.go: the apps behind routes (echo, static site), raw
//     request lines, and nginx with a location per route.
//
// The JupyterHub scenarios are in jupyterhub_test.go (and, for what 4.x and
// 5.x Hubs add - Origin on the token endpoint, cookie variables,
// internal_ssl - in hub_today_test.go), the Django ones in
// django_test.go, several replicas with Redis in replicas_test.go, several apps
// behind one hubgate (routes) in routes_test.go; hub_harness_test.go and django_harness_test.go check the
// harnesses against the peers alone.
package integration
