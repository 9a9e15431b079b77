package config

import (
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// readArgs reads args as the hubgate command does, unvalidated, with no HUBGATE_*
// variables: every key bound to what it read.
func readArgs(t *testing.T, args ...string) []Key {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HUBGATE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	cfg := &Config{}
	flags := Flags()
	app := &cli.App{Name: "hubgate", Flags: flags, Before: LoadFile(flags), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) (err error) {
			cfg, err = read(c, &Config{})
			return err
		}}
	if err := app.Run(append([]string{"hubgate"}, args...)); err != nil {
		t.Fatal(err)
	}
	return keys(cfg)
}

// TestExampleShowsDefaults: config.example.yaml gives each key that has a default
// the table's default, so the documentation cannot drift from the code. (Keys
// without one, such as upstream, show an example value.)
func TestExampleShowsDefaults(t *testing.T) {
	defaults, example := readArgs(t), readArgs(t, "--config", "../config.example.yaml")
	for i, k := range defaults {
		d, e := k.f.value(), example[i].f.value()
		if !reflect.DeepEqual(d, e) && !reflect.ValueOf(d).IsZero() {
			t.Errorf("config.example.yaml: %s is %v, the default is %v", k.Name, e, d)
		}
	}
}
