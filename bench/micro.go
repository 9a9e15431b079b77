package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// microPackages hold the *_bench_test.go micro-benchmarks (./bench: ServeRoutes,
// proxy.Server with 1 and 100 routes, built through the proxy package's exported API).
var microPackages = []string{"./session", "./identity", "./upstream", "./proxy", "./provider", "./bench"}

// microResult is one line of `go test -bench` output.
type microResult struct {
	pkg, name string
	metrics   map[string]float64 // "ns/op", "B/op", "allocs/op", and custom units
}

// runMicro runs the micro-benchmarks in root and parses their results.
func runMicro(root, benchtime string) ([]microResult, string, error) {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", benchtime, "-count", "1"}, microPackages...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	results := parseMicro(string(out))
	if err != nil {
		return results, string(out), fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return results, string(out), nil
}

func parseMicro(out string) []microResult {
	var results []microResult
	pkg := ""
	for line := range strings.SplitSeq(out, "\n") {
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), "github.com/hubgate/hubgate/")
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 { // the -GOMAXPROCS suffix
			name = name[:i]
		}
		r := microResult{pkg: pkg, name: strings.TrimPrefix(name, "Benchmark"), metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				r.metrics[f[i+1]] = v
			}
		}
		results = append(results, r)
	}
	return results
}

func findMicro(results []microResult, name string) (microResult, bool) {
	for _, r := range results {
		if r.name == name {
			return r, true
		}
	}
	return microResult{}, false
}
