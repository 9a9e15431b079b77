package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hubgate/hubgate/config"
)

// TestExamplesAreValid runs check-config on every example configuration.
func TestExamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob("examples/*/hubgate.yaml")
	if len(files) < 5 {
		t.Fatalf("found %d example configs, want one per provider", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if err := newApp().Run([]string{"hubgate", "check-config", "--config", f}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		})
	}
}

// TestExampleConfigDocumentsEveryKey keeps config.example.yaml complete and valid YAML.
func TestExampleConfigDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]interface{}
	if err := yaml.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range config.Flags() {
		key := strings.ReplaceAll(f.Names()[0], "-", "_")
		if key == "config" {
			continue
		}
		if _, ok := keys[key]; !ok {
			t.Errorf("config.example.yaml does not document %q", key)
		}
		if !strings.Contains(string(readme), "`"+key+"`") {
			t.Errorf("README.md's reference does not list %q", key)
		}
	}
}
