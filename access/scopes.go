package access

import "strings"

// KeepScopes returns the scopes of held that cover one of wanted, nil if none does.
func KeepScopes(held, wanted []string) []string {
	var kept []string
	for _, h := range held {
		for _, w := range wanted {
			if Covers(h, w) {
				kept = append(kept, h)
				break
			}
		}
	}
	return kept
}

// Covers reports whether holding scope held grants wanted. A scope without a filter
// covers its filtered forms: access:services covers access:services!service=NAME.
func Covers(held, wanted string) bool {
	base, _, _ := strings.Cut(wanted, "!")
	return held == wanted || held == base
}

// hasAnyScope reports whether held covers one of wanted (Covers: the rule Scoped
// also keeps scopes by).
func hasAnyScope(held, wanted []string) bool {
	for _, w := range wanted {
		for _, h := range held {
			if Covers(h, w) {
				return true
			}
		}
	}
	return false
}
