package provider

// DjangoPreset is a django-oauth-toolkit site's endpoints under its base URL. Without
// a userdata URL the identity comes from token introspection, which tells no groups
// or email; with one, its JSON is read like the generic provider's.
func DjangoPreset(base string, userdata bool) Preset {
	p := Preset{
		LoginService: "Django",
		AuthorizeURL: base + "/o/authorize/",
		TokenURL:     base + "/o/token/",
		UsernameKey:  "username",
	}
	if userdata {
		p.GroupsKey, p.EmailKey = "groups", "email"
	} else {
		p.IntrospectURL = base + "/o/introspect/"
	}
	return p
}
