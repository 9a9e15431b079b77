package config

import (
	"reflect"
	"regexp"
	"testing"
)

// TestKeysTable: each key has a distinct snake_case name and help, and fills its own
// field, so two keys can never write one setting.
func TestKeysTable(t *testing.T) {
	names, fields := map[string]bool{}, map[uintptr]string{}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	for _, k := range keys(&Config{}) {
		if !snake.MatchString(k.Name) || names[k.Name] || k.Help == "" {
			t.Errorf("key %q: not snake_case, listed twice, or without help", k.Name)
		}
		names[k.Name] = true
		p := reflect.ValueOf(k.f).FieldByName("ptr").Pointer()
		if other, ok := fields[p]; ok {
			t.Errorf("keys %q and %q fill the same field", other, k.Name)
		}
		fields[p] = k.Name
	}
	for _, k := range Keys() {
		if k.Name == "cache_ttl" && (k.Flag() != "cache-ttl" || k.Env() != "HUBGATE_CACHE_TTL") {
			t.Errorf("cache_ttl spelled %q, %q", k.Flag(), k.Env())
		}
	}
}
