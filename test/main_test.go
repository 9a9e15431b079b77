//go:build integration

package integration

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hubgate-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot create a build dir:", err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
