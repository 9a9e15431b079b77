package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigFile: any file content gives a config source or an error, never a panic.
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		"upstream: http://127.0.0.1:8080\n",
		"cache_ttl: 300s\ncache_size: 10\nallowed_groups: [a, b]\n",
		"username_map: {Alice: alice}\n",
		"cookie_secret: x\n",
		"foo: 1\n",
		"cache_ttl: [1, 2]\n",
		": :\n- x\n",
		"allowed_users: {a: [1]}\n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		readFile(p)
	})
}
