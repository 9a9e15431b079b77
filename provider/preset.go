package provider

// Preset is what a provider fills in where the configuration leaves a setting empty
// (docs/peers.md, "GitHub and Google"). Every setting can still be overridden, which is also how
// tests point a preset at local fakes.
type Preset struct {
	LoginService  string // the name on the sign-in page
	AuthorizeURL  string
	TokenURL      string
	UserdataURL   string
	IntrospectURL string
	UsernameKey   string
	GroupsKey     string
	EmailKey      string
	Scopes        []string   // when none are configured
	ExtraScopes   []string   // added to the configured ones when missing
	ClientAuth    ClientAuth // in place of ClientAuthAuto; "" keeps auto
}
