// Package config turns flags, HUBGATE_* environment variables, a YAML file and the
// environment JupyterHub gives its managed services into one validated Config.
package config

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
	"gopkg.in/yaml.v3"
)

// Key is one configuration key (see keys): a YAML key, the flag --name-with-dashes
// and the environment variable HUBGATE_NAME.
type Key struct {
	Name string
	Help string
	kind kind
	f    field
}

// Flag is the key's command-line spelling: cache_ttl → cache-ttl.
func (k Key) Flag() string { return flagName(k.Name) }

// Env is the environment variable that sets the key: cache_ttl → HUBGATE_CACHE_TTL.
func (k Key) Env() string { return EnvName(k.Name) }

// Keys lists every configuration key, in --help's order.
func Keys() []Key { return keys(&Config{}) }

// EnvName is the environment variable that sets a key: cache_ttl → HUBGATE_CACHE_TTL.
func EnvName(key string) string { return "HUBGATE_" + strings.ToUpper(key) }

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// kind is how a key's value is written in YAML.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindDuration
	kindList   // strings; also a single string, split on commas
	kindPairs  // key=value strings; also a YAML mapping
	kindRoutes // a list of mappings; YAML text on the command line and in the environment
)

// field is a key bound to the Config field it fills.
type field interface {
	flag(k Key) cli.Flag
	// load stores what the flags, the environment or the file set, else the value of
	// hub (the same key bound to the JupyterHub service defaults) unless zero.
	load(c *cli.Context, k Key, hub field) error
	value() any // the field's value
	// set stores a YAML value that kind.check has passed: a route's own setting.
	set(k Key, v any) error
}

type bound[T any] struct {
	ptr     *T
	newFlag func(k Key) cli.Flag
	read    func(c *cli.Context, k Key) (T, error)
	// fromYAML reads a value that kind.check has passed: a string, bool, int, or a
	// list of strings for list and pairs keys.
	fromYAML func(k Key, v any) (T, error)
}

func (b bound[T]) set(k Key, v any) error {
	x, err := b.fromYAML(k, v)
	if err != nil {
		return err
	}
	*b.ptr = x
	return nil
}

func (b bound[T]) flag(k Key) cli.Flag { return b.newFlag(k) }
func (b bound[T]) value() any          { return *b.ptr }

func (b bound[T]) load(c *cli.Context, k Key, hub field) error {
	if h := *hub.(bound[T]).ptr; !c.IsSet(k.Flag()) && !reflect.ValueOf(&h).Elem().IsZero() {
		*b.ptr = h
		return nil
	}
	v, err := b.read(c, k)
	if err != nil {
		return err
	}
	*b.ptr = v
	return nil
}

func bind[T any](name, help string, kind kind, p *T, newFlag func(Key) cli.Flag, read func(*cli.Context, Key) (T, error), fromYAML func(Key, any) (T, error)) Key {
	return Key{Name: name, Help: help, kind: kind, f: bound[T]{ptr: p, newFlag: newFlag, read: read, fromYAML: fromYAML}}
}

func str(name string, p *string, def, help string) Key {
	return bind(name, help, kindString, p, stringFlag(def), func(c *cli.Context, k Key) (string, error) {
		return c.String(k.Flag()), nil
	}, func(_ Key, v any) (string, error) { return v.(string), nil })
}

// choice is a key whose value must be one of allowed.
func choice[T ~string](name string, p *T, def T, help string, allowed ...T) Key {
	check := func(k Key, v T) (T, error) {
		if !slices.Contains(allowed, v) {
			return v, bad(k.Name, "%q: use %s", v, orList(allowed))
		}
		return v, nil
	}
	return bind(name, help, kindString, p, stringFlag(string(def)), func(c *cli.Context, k Key) (T, error) {
		return check(k, T(c.String(k.Flag())))
	}, func(k Key, v any) (T, error) { return check(k, T(v.(string))) })
}

func boolean(name string, p *bool, def bool, help string) Key {
	return bind(name, help, kindBool, p, func(k Key) cli.Flag {
		return altsrc.NewBoolFlag(&cli.BoolFlag{Name: k.Flag(), Value: def, Usage: k.Help, EnvVars: []string{k.Env()}})
	}, func(c *cli.Context, k Key) (bool, error) { return c.Bool(k.Flag()), nil },
		func(_ Key, v any) (bool, error) { return v.(bool), nil })
}

func number(name string, p *int, def int, help string) Key {
	return bind(name, help, kindInt, p, func(k Key) cli.Flag {
		return altsrc.NewIntFlag(&cli.IntFlag{Name: k.Flag(), Value: def, Usage: k.Help, EnvVars: []string{k.Env()}})
	}, func(c *cli.Context, k Key) (int, error) { return c.Int(k.Flag()), nil },
		func(_ Key, v any) (int, error) { return v.(int), nil })
}

func duration(name string, p *time.Duration, def time.Duration, help string) Key {
	return bind(name, help, kindDuration, p, func(k Key) cli.Flag {
		return altsrc.NewDurationFlag(&cli.DurationFlag{Name: k.Flag(), Value: def, Usage: k.Help, EnvVars: []string{k.Env()}})
	}, func(c *cli.Context, k Key) (time.Duration, error) { return c.Duration(k.Flag()), nil },
		func(_ Key, v any) (time.Duration, error) { return time.ParseDuration(v.(string)) })
}

func list(name string, p *[]string, help string) Key {
	return bind(name, help, kindList, p, sliceFlag(nil), func(c *cli.Context, k Key) ([]string, error) {
		return splitList(c.StringSlice(k.Flag())), nil
	}, func(_ Key, v any) ([]string, error) { return splitList(yamlStrings(v)), nil })
}

// parsed is a list key whose items parse reads into T, with errors naming the key.
func parsed[T any](name string, p *T, parse func(key string, items []string) (T, error), def []string, help string) Key {
	return bind(name, help, kindList, p, sliceFlag(def), func(c *cli.Context, k Key) (T, error) {
		return parse(k.Name, splitList(c.StringSlice(k.Flag())))
	}, func(k Key, v any) (T, error) { return parse(k.Name, splitList(yamlStrings(v))) })
}

// pairs is a key=value list. Not split on commas: the command line and the
// environment come split already, and YAML values may hold commas (fields: id,name).
func pairs(name string, p *map[string]string, help string) Key {
	read := func(k Key, in []string) (map[string]string, error) {
		var items []string
		for _, v := range in {
			if v = strings.TrimSpace(v); v != "" {
				items = append(items, v)
			}
		}
		return parsePairs(k.Name, items)
	}
	return bind(name, help, kindPairs, p, sliceFlag(nil), func(c *cli.Context, k Key) (map[string]string, error) {
		return read(k, c.StringSlice(k.Flag()))
	}, func(k Key, v any) (map[string]string, error) { return read(k, yamlStrings(v)) })
}

// routes is the routes key: the file's list of mappings, or the same as YAML text.
func routes(name string, p *[]map[string]interface{}, help string) Key {
	return bind(name, help, kindRoutes, p, stringFlag(""), func(c *cli.Context, k Key) ([]map[string]interface{}, error) {
		return parseRouteSpecs(k.Name, c.String(k.Flag()))
	}, func(k Key, v any) ([]map[string]interface{}, error) { return parseRouteSpecs(k.Name, v.(string)) })
}

// yamlStrings is a list value as kind.check leaves it: strings in a []interface{}.
func yamlStrings(v any) []string {
	items, _ := v.([]interface{})
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, _ := item.(string)
		out = append(out, s)
	}
	return out
}

func stringFlag(def string) func(Key) cli.Flag {
	return func(k Key) cli.Flag {
		return altsrc.NewStringFlag(&cli.StringFlag{Name: k.Flag(), Value: def, Usage: k.Help, EnvVars: []string{k.Env()}})
	}
}

func sliceFlag(def []string) func(Key) cli.Flag {
	return func(k Key) cli.Flag {
		f := &cli.StringSliceFlag{Name: k.Flag(), Usage: k.Help, EnvVars: []string{k.Env()}}
		if def != nil {
			f.Value = cli.NewStringSlice(def...)
		}
		return altsrc.NewStringSliceFlag(f)
	}
}

// orList writes "a or b", "a, b or c".
func orList[T ~string](items []T) string {
	s := make([]string, len(items))
	for i, v := range items {
		s[i] = string(v)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// read fills a Config from the parsed flags (which hold the environment and the file
// already), taking hub's value for each key that none of them set.
func read(c *cli.Context, hub *Config) (*Config, error) {
	cfg := &Config{}
	mine, theirs := keys(cfg), keys(hub)
	for i, k := range mine {
		if err := k.f.load(c, k, theirs[i].f); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// Flags returns a fresh set of flags, one per configuration key, plus --config.
// Each command needs its own set: urfave/cli flags keep state once applied.
func Flags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML file with configuration keys", EnvVars: []string{"HUBGATE_CONFIG"}},
	}
	for _, k := range Keys() {
		flags = append(flags, k.f.flag(k))
	}
	return flags
}

// LoadFile is a cli.BeforeFunc: it applies the --config YAML file to every flag that
// neither the command line nor the environment set. Unknown keys and values of the
// wrong type are errors naming the key; a list key may be written as a single string.
func LoadFile(flags []cli.Flag) cli.BeforeFunc {
	return func(c *cli.Context) error {
		path := c.String("config")
		if path == "" {
			return nil
		}
		src, err := readFile(path)
		if err != nil {
			return err
		}
		if err := altsrc.ApplyInputSourceValues(c, src, flags); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
		return nil
	}
}

func readFile(path string) (altsrc.InputSourceContext, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	byName := map[string]Key{}
	for _, k := range Keys() {
		byName[k.Name] = k
	}
	values := map[interface{}]interface{}{}
	for name, v := range raw {
		k, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("config file %s: unknown key %q (see config.example.yaml)", path, name)
		}
		if v == nil {
			continue
		}
		v, err := k.kind.check(v)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %s: %w", path, name, err)
		}
		values[k.Flag()] = v
	}
	return altsrc.NewMapInputSource(path, values), nil
}

// yamlKind names what a YAML value is, never the value: the key may hold a secret
// (client_secret: 12345 reads as a number).
func yamlKind(v interface{}) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case bool:
		return "true or false"
	case int, int64, uint64, float64:
		return "a number"
	case []interface{}:
		return "a list"
	case map[string]interface{}:
		return "a mapping"
	case map[interface{}]interface{}:
		return "a mapping whose keys are not all strings"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// check checks a YAML value before altsrc sees it, so the error can say what was
// expected, and turns a single string or a mapping into the list altsrc wants.
func (kd kind) check(v interface{}) (interface{}, error) {
	switch kd {
	case kindRoutes:
		list, ok := v.([]interface{})
		if !ok {
			return nil, fmt.Errorf("expected a list of routes (mappings with path:, upstream:, ...), got %s", yamlKind(v))
		}
		for i, item := range list {
			if _, ok := item.(map[string]interface{}); !ok {
				return nil, fmt.Errorf("routes[%d]: expected a mapping (path:, upstream:, ...), got %s", i, yamlKind(item))
			}
		}
		text, err := yaml.Marshal(list)
		if err != nil {
			return nil, err
		}
		return string(text), nil
	case kindList, kindPairs:
		if m, ok := v.(map[string]interface{}); ok && kd == kindPairs {
			var pairs []interface{}
			for k, val := range m {
				s, ok := val.(string)
				if !ok {
					return nil, fmt.Errorf("expected string values, got %s for %q", yamlKind(val), k)
				}
				pairs = append(pairs, k+"="+s)
			}
			return pairs, nil
		}
		if s, ok := v.(string); ok {
			return []interface{}{s}, nil
		}
		list, ok := v.([]interface{})
		if !ok {
			return nil, fmt.Errorf("expected a list of strings, got %s", yamlKind(v))
		}
		for _, item := range list {
			if _, ok := item.(string); !ok {
				return nil, fmt.Errorf("expected a list of strings, got %s in it", yamlKind(item))
			}
		}
	case kindDuration:
		s, ok := v.(string)
		if _, err := time.ParseDuration(s); !ok || err != nil {
			return nil, fmt.Errorf("expected a duration such as 300s or 5m, got %v", v)
		}
	case kindInt:
		if _, ok := v.(int); !ok {
			return nil, fmt.Errorf("expected a whole number, got %v", v)
		}
	case kindBool:
		if _, ok := v.(bool); !ok {
			return nil, fmt.Errorf("expected true or false, got %v", v)
		}
	default:
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("expected a string, got %s", yamlKind(v))
		}
	}
	return v, nil
}
