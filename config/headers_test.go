package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hubgate/hubgate/config"
)

// TestHeaderKeysRefused: every refused upstream_headers name or field, and
// pass_basic_auth without its password, is an error naming the key (and the header).
func TestHeaderKeysRefused(t *testing.T) {
	for _, c := range []struct {
		args    []string
		key     string
		mention string
	}{
		{[]string{"--pass-basic-auth"}, "basic_auth_password", "pass_basic_auth"},
		{[]string{"--upstream-headers", "Authorization=user"}, "upstream_headers", "pass_basic_auth"},
		{[]string{"--upstream-headers", "X-Webauth-User=access_token"}, "upstream_headers", "pass_access_token"},
		{[]string{"--upstream-headers", "X-Webauth-User=login"}, "upstream_headers", "user, email, groups, preferred_username, admin"},
		{[]string{"--upstream-headers", "X_Webauth_User=user"}, "upstream_headers", "X_Webauth_User"},
	} {
		clearEnv(t)
		_, err := load(t, append(standalone, c.args...), nil)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != c.key || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%v: err = %v, want one naming %s and saying %q", c.args, err, c.key, c.mention)
		}
	}
	for _, name := range []string{"Cookie", "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection",
		"Upgrade", "TE", "Trailer", "Keep-Alive", "Proxy-Authorization", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "x-real-ip", "authorization"} {
		clearEnv(t)
		_, err := load(t, append(standalone, "--upstream-headers", name+"=user"), nil)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != "upstream_headers" || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming upstream_headers and the header", name, err)
		}
	}
}

// TestHeaderKeys: the switches from a YAML file (upstream_headers as a mapping) and
// the password from the environment, as a secret is set.
func TestHeaderKeys(t *testing.T) {
	clearEnv(t)
	t.Setenv("HUBGATE_BASIC_AUTH_PASSWORD", "pw")
	path := writeYAML(t, `
pass_user_headers: false
prefer_email_to_user: true
pass_basic_auth: true
set_xauthrequest: false
upstream_headers:
  X-WEBAUTH-USER: user
  X-WEBAUTH-EMAIL: email
`)
	c := mustLoad(t, append(standalone, "--config", path), nil)
	if c.PassUserHeaders || !c.PreferEmailToUser || !c.PassBasicAuth || c.BasicAuthPassword != "pw" || c.SetXAuthRequest {
		t.Errorf("switches %+v", c)
	}
	if want := map[string]string{"X-WEBAUTH-USER": "user", "X-WEBAUTH-EMAIL": "email"}; !reflect.DeepEqual(c.UpstreamHeaders, want) {
		t.Errorf("upstream_headers %v, want %v", c.UpstreamHeaders, want)
	}
	if o := c.HeaderOptions(); o.BasicAuth != "pw" || o.PassUser || !o.PreferEmail || o.AuthRequest {
		t.Errorf("HeaderOptions %+v", o)
	}
	// The password alone sends nothing: pass_basic_auth decides.
	clearEnv(t)
	t.Setenv("HUBGATE_BASIC_AUTH_PASSWORD", "pw")
	if o := mustLoad(t, standalone, nil).HeaderOptions(); o.BasicAuth != "" || !o.PassUser || !o.AuthRequest {
		t.Errorf("defaults: HeaderOptions %+v", o)
	}
}
