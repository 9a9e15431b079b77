// Package oauth2proxy translates an oauth2-proxy configuration — its TOML file, its
// command-line flags and its OAUTH2_PROXY_* environment — into hubgate's keys.
package oauth2proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Source is an oauth2-proxy configuration merged as oauth2-proxy merges it: flags
// over the environment over the file.
type Source struct {
	set  map[string]setting // by TOML key
	File string             // the --config file, if any
	// Ignored lists OAUTH2_PROXY_* variables that name no option (oauth2-proxy
	// ignores them too).
	Ignored []string
}

type setting struct {
	value any    // string, bool, []string, time.Duration or int, by the option's kind
	where string // for messages: "proxy.cfg line 12", "--upstream", "OAUTH2_PROXY_UPSTREAMS"
}

var byName, byFlag = func() (map[string]option, map[string]option) {
	n, f := map[string]option{}, map[string]option{}
	for _, o := range options {
		n[o.name] = o
		if o.flag != "" {
			f[o.flag] = o
		}
	}
	return n, f
}()

// envPrefix starts every environment variable oauth2-proxy reads.
const envPrefix = "OAUTH2_PROXY_"

// Load reads oauth2-proxy's command line args (without the program name; its
// --config names the TOML file, read with readFile) and its environment env.
func Load(args []string, env map[string]string, readFile func(string) ([]byte, error)) (*Source, error) {
	flags, file, err := parseFlags(args)
	if err != nil {
		return nil, err
	}
	src := &Source{set: map[string]setting{}, File: file}
	if file != "" {
		data, err := readFile(file)
		if err != nil {
			return nil, err
		}
		if err := src.readTOML(file, data); err != nil {
			return nil, err
		}
	}
	if err := src.readEnv(env); err != nil {
		return nil, err
	}
	for name, s := range flags {
		src.set[name] = s
	}
	return src, nil
}

// readTOML reads the legacy config file: flat key = value lines.
func (s *Source) readTOML(file string, data []byte) error {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("%s line %d: %s", file, perr.Position.Line, perr.Message)
		}
		return fmt.Errorf("%s: %v", file, err)
	}
	for key, v := range raw {
		where := fmt.Sprintf("%s line %d", file, lineOf(data, key))
		o, ok := byName[key]
		if !ok {
			return fmt.Errorf("%s: unknown oauth2-proxy option %q", where, key)
		}
		value, err := fromTOML(o, v)
		if err != nil {
			return fmt.Errorf("%s: %s: %v", where, key, err)
		}
		s.set[key] = setting{value, where}
	}
	return nil
}

// lineOf finds the line that sets key, for messages (the TOML decoder keeps no
// positions once a file parses).
func lineOf(data []byte, key string) int {
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if re.MatchString(sc.Text()) {
			return n
		}
	}
	return 0
}

func fromTOML(o option, v any) (any, error) {
	switch o.kind {
	case flag:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("expected true or false, got %v", v)
	case number:
		if n, ok := v.(int64); ok {
			return int(n), nil
		}
		return nil, fmt.Errorf("expected a whole number, got %v", v)
	case list:
		switch v := v.(type) {
		case string:
			return splitComma(v), nil
		case []any:
			out := make([]string, 0, len(v))
			for _, item := range v {
				s, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("expected a list of strings, got %v", item)
				}
				out = append(out, s)
			}
			return out, nil
		}
		return nil, fmt.Errorf("expected a list of strings, got %v", v)
	}
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("expected a string, got %v", v)
	}
	return fromString(o, str)
}

// fromString parses a value written as text (a flag or a variable).
func fromString(o option, v string) (any, error) {
	switch o.kind {
	case flag:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("expected true or false, got %q", v)
		}
		return b, nil
	case number:
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("expected a whole number, got %q", v)
		}
		return n, nil
	case duration:
		if v == "" {
			return time.Duration(0), nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("expected a duration such as 168h, got %q", v)
		}
		return d, nil
	case list:
		return splitComma(v), nil
	}
	return v, nil
}

func splitComma(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (s *Source) readEnv(env map[string]string) error {
	for name, v := range env {
		key, ok := strings.CutPrefix(name, envPrefix)
		if !ok {
			continue
		}
		o, ok := byName[strings.ToLower(key)]
		if !ok {
			s.Ignored = append(s.Ignored, name)
			continue
		}
		value, err := fromString(o, v)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		s.set[o.name] = setting{value, name}
	}
	return nil
}

// parseFlags reads oauth2-proxy's flags (--name=value, --name value, --bool), and
// returns them by TOML key, with the --config file.
func parseFlags(args []string) (map[string]setting, string, error) {
	out := map[string]setting{}
	var file string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
			return nil, "", fmt.Errorf("%q: oauth2-proxy takes no arguments but its flags", arg)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if name == "alpha-config" {
			return nil, "", errors.New("--alpha-config: only oauth2-proxy's legacy options (its TOML file, flags and environment) can be imported")
		}
		o, known := byFlag[name]
		if !known && name != "config" {
			return nil, "", fmt.Errorf("--%s: unknown oauth2-proxy flag", name)
		}
		if !hasValue && (name == "config" || o.kind != flag) {
			if i+1 == len(args) {
				return nil, "", fmt.Errorf("--%s needs a value", name)
			}
			i++
			value = args[i]
		} else if !hasValue {
			value = "true"
		}
		if name == "config" {
			file = value
			continue
		}
		v, err := fromString(o, value)
		if err != nil {
			return nil, "", fmt.Errorf("--%s: %v", name, err)
		}
		if prev, ok := out[o.name].value.([]string); ok && o.kind == list {
			v = append(prev, v.([]string)...) // a repeated list flag adds to the list
		}
		out[o.name] = setting{v, "--" + name}
	}
	return out, file, nil
}

// has reports whether the configuration sets the option.
func (s *Source) has(name string) bool { _, ok := s.set[name]; return ok }

func (s *Source) str(name string) string    { v, _ := s.set[name].value.(string); return v }
func (s *Source) list(name string) []string { v, _ := s.set[name].value.([]string); return v }
func (s *Source) boolean(name string) bool  { v, _ := s.set[name].value.(bool); return v }
func (s *Source) dur(name string) time.Duration {
	v, _ := s.set[name].value.(time.Duration)
	return v
}

// where tells where an option was set, for messages.
func (s *Source) where(name string) string { return s.set[name].where }
