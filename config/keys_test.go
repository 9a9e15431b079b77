package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
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

// TestErrorsNameKeys: every key an error names, bad("cache_ttl", ...), is in the
// table (or a route's own keys), so a message never points the user at a key that
// does not exist.
func TestErrorsNameKeys(t *testing.T) {
	names := map[string]bool{}
	for _, k := range append(Keys(), routeOnlyKeys(&Route{})...) {
		names[k.Name] = true
	}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if fn, ok := call.Fun.(*ast.Ident); ok && (fn.Name == "bad" || fn.Name == "checkHTTPURL") {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if key, _ := strconv.Unquote(lit.Value); !names[key] {
						t.Errorf("%s: an error names %q, which is no key", fset.Position(lit.Pos()), key)
					}
				}
			}
			return true
		})
	}
}
