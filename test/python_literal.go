//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// pyLiteral renders a Go value as a Python literal for generated config files:
// nil, bool, integers, strings, slices (as lists) and string-keyed maps (as
// dicts with sorted keys). It panics on anything else, which is a bug in the
// calling test.
func pyLiteral(v any) string {
	if v == nil {
		return "None"
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		if rv.Bool() {
			return "True"
		}
		return "False"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.String:
		// A JSON string (with \uXXXX escapes) is a valid Python string.
		b, err := json.Marshal(rv.String())
		if err != nil {
			panic(err)
		}
		return string(b)
	case reflect.Slice, reflect.Array:
		items := make([]string, rv.Len())
		for i := range items {
			items[i] = pyLiteral(rv.Index(i).Interface())
		}
		return "[" + strings.Join(items, ", ") + "]"
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			panic(fmt.Sprintf("pyLiteral: map key type %s", rv.Type().Key()))
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = pyLiteral(k) + ": " + pyLiteral(rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface())
		}
		return "{" + strings.Join(items, ", ") + "}"
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return "None"
		}
		return pyLiteral(rv.Elem().Interface())
	}
	panic(fmt.Sprintf("pyLiteral: unsupported type %T", v))
}
