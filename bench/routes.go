package main

import (
	"fmt"
	"strings"
)

// Routing's cost: a hubgate with routes (100 apps on the same upstream) beside the
// same hubgate with only upstream (its one implicit route), both asked for the same
// page at a typical depth, in the same rounds. Both share the main hubgate's cookie
// secret, so its session works on them.

const (
	// routeCount is how many routes the routes hubgate has: the catch-all / and
	// /app00 … /app98, as proxy's BenchmarkRouteFind has them.
	routeCount = 100
	// routesPage is what both are asked for: three segments deep, served by /app57
	// among 99 other routes, and by the one route (/) of the other.
	routesPage = "/app57/some/page"

	ratioRoutesRPS = "hubgate 100 routes / 1 route, cookie proxy, throughput"
	ratioRoutesP99 = "hubgate 100 routes / 1 route, cookie proxy, p99"
	ratioRoutesCPU = "CPU per request: hubgate 100 routes / 1 route, cookie proxy"
)

// routePaths are the routes' paths: "/" and /app00 … /app98.
func routePaths() []string {
	paths := []string{"/"}
	for i := range routeCount - 1 {
		paths = append(paths, fmt.Sprintf("/app%02d", i))
	}
	return paths
}

// routesYAML is the routes key (YAML flow style, for HUBGATE_ROUTES): a route for
// each of routePaths, each to upstream, inheriting every other setting.
func routesYAML(upstream string) string {
	var entries []string
	for _, p := range routePaths() {
		entries = append(entries, fmt.Sprintf("{path: %s, upstream: %q}", p, upstream))
	}
	return "[" + strings.Join(entries, ", ") + "]"
}

// addRoutes starts the one-route and the 100-route hubgate and adds their
// scenarios, back to back after the token scenario.
func (r *rig) addRoutes(sc *scenarioList, cookieH string) error {
	one, err := r.startHubgate("hubgate-1route", nil)
	if err != nil {
		return err
	}
	// With routes the top-level upstream must be left out (an empty value is).
	many, err := r.startHubgate("hubgate-100routes", map[string]string{
		"HUBGATE_UPSTREAM": "",
		"HUBGATE_ROUTES":   routesYAML(r.upstream.url),
	})
	if err != nil {
		return err
	}
	h := []string{cookieH}
	sc.insertAfter("token", &scenario{key: "routes-100", name: fmt.Sprintf("hubgate, %d routes, cookie session, %s", routeCount, routesPage),
		url: many.url + routesPage, headers: h, proc: many, want: 200})
	sc.insertAfter("token", &scenario{key: "routes-1", name: "hubgate, 1 route (upstream), cookie session, " + routesPage,
		url: one.url + routesPage, headers: h, proc: one, want: 200})
	return nil
}

// routesRatios compare the two, round by round.
func routesRatios(pair func(name, a, b string, f func(x, y loadResult) float64), rps, p99, cpu func(x, y loadResult) float64) {
	pair(ratioRoutesRPS, "routes-100", "routes-1", rps)
	pair(ratioRoutesP99, "routes-100", "routes-1", p99)
	pair(ratioRoutesCPU, "routes-100", "routes-1", cpu)
}

// routesTarget is the issue's: routing adds no measurable cost with 100 routes. The
// value also gives the CPU-per-request ratio and the micro-benchmarks (ServeRoutes
// in ./bench, the whole request in-process; RouteFind in ./proxy, the lookup alone),
// which the machine's other load moves far less.
func routesTarget(ratioOf func(string) (float64, bool), micro []microResult) []target {
	const name = "proxy throughput with 100 routes ≥ 0.95 × one route (same run)"
	v, ok := ratioOf(ratioRoutesRPS)
	if !ok {
		return []target{{name: name, value: "not measured (-routes=false or no load phase)", skip: true}}
	}
	value := fmt.Sprintf("%.3f ×", v)
	if c, ok := ratioOf(ratioRoutesCPU); ok {
		value += fmt.Sprintf("; CPU per request %.3f ×", c)
	}
	for _, m := range []struct{ what, name string }{
		{"ServeHTTP in-process", "ServeRoutes/routes=%d/plain"},
		{"route lookup", "RouteFind/routes=%d"},
	} {
		one, ok1 := findMicro(micro, fmt.Sprintf(m.name, 1))
		many, ok100 := findMicro(micro, fmt.Sprintf(m.name, routeCount))
		if ok1 && ok100 {
			value += fmt.Sprintf("; %s %.0f ns vs %.0f ns (%.3f ×)", m.what, many.metrics["ns/op"], one.metrics["ns/op"], many.metrics["ns/op"]/one.metrics["ns/op"])
		}
	}
	return []target{{name: name, value: value, pass: v >= 0.95}}
}
