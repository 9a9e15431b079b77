//go:build integration

package integration

import (
	"html"
	"net/url"
	"regexp"
	"strings"
)

// htmlForm is a <form> found in a page, reduced to what a scripted browser
// needs: where it goes, how, and the values its inputs carry.
type htmlForm struct {
	Action string // as written in the page (unescaped), may be "" or relative
	Method string // upper case, GET if absent
	// Fields holds the values the form would submit as is: hidden inputs
	// and other inputs with a value (not submit buttons, not disabled ones).
	Fields url.Values
	// Inputs lists the names of all inputs, e.g. to recognise a login form.
	Inputs []string
}

var (
	formPattern  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form\s*>`)
	inputPattern = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrPattern  = regexp.MustCompile(`(?s)([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>` + "`" + `]+)))?`)
)

// parseForms finds the forms in an HTML page. It is a regular-expression
// reader meant for the simple server-rendered pages of the peers under test.
func parseForms(page []byte) []htmlForm {
	var forms []htmlForm
	for _, m := range formPattern.FindAllSubmatch(page, -1) {
		attrs := parseAttrs(string(m[1]))
		f := htmlForm{Action: attrs["action"], Method: strings.ToUpper(attrs["method"]), Fields: url.Values{}}
		if f.Method == "" {
			f.Method = "GET"
		}
		for _, in := range inputPattern.FindAllSubmatch(m[2], -1) {
			a := parseAttrs(string(in[1]))
			name := a["name"]
			if name == "" {
				continue
			}
			f.Inputs = append(f.Inputs, name)
			_, disabled := a["disabled"]
			_, hasValue := a["value"]
			typ := strings.ToLower(a["type"])
			if disabled || typ == "submit" || typ == "button" || typ == "checkbox" || typ == "radio" {
				continue
			}
			if typ == "hidden" || hasValue {
				f.Fields.Add(name, a["value"])
			}
		}
		forms = append(forms, f)
	}
	return forms
}

// parseAttrs reads the attributes of a tag; values are HTML-unescaped and
// names lower-cased. A bare attribute maps to "".
func parseAttrs(s string) map[string]string {
	attrs := map[string]string{}
	for _, m := range attrPattern.FindAllStringSubmatch(s, -1) {
		name := strings.ToLower(m[1])
		if _, seen := attrs[name]; seen {
			continue
		}
		attrs[name] = html.UnescapeString(m[2] + m[3] + m[4])
	}
	return attrs
}

// hasInput reports whether the form has an input with this name.
func (f htmlForm) hasInput(name string) bool {
	for _, n := range f.Inputs {
		if n == name {
			return true
		}
	}
	return false
}
