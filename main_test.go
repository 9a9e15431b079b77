package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hubgate/hubgate/config"
)

// TestExamplesAreValid runs check-config on every example configuration.
func TestExamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob("examples/*/hubgate.yaml")
	if len(files) < 5 {
		t.Fatalf("found %d example configs, want one per provider", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if err := newApp().Run([]string{"hubgate", "check-config", "--config", f}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		})
	}
}

// TestExampleConfigDocumentsEveryKey keeps config.example.yaml complete and valid YAML,
// and README's reference complete.
func TestExampleConfigDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]interface{}
	if err := yaml.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys() {
		key := k.Name
		if _, ok := keys[key]; !ok {
			t.Errorf("config.example.yaml does not document %q", key)
		}
		if !strings.Contains(string(readme), "`"+key+"`") {
			t.Errorf("README.md's reference does not list %q", key)
		}
	}
}

// TestComposeExample checks that the compose file's hubgate environment is a valid
// configuration and agrees with the Hub's service entry. (No Docker engine runs here.)
func TestComposeExample(t *testing.T) {
	data, err := os.ReadFile("examples/compose/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	env := compose.Services["hubgate"].Environment
	if len(env) == 0 {
		t.Fatal("no hubgate service with an environment")
	}
	for k := range environ() {
		if strings.HasPrefix(k, "HUBGATE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		// ${VAR:?message} is filled in by compose from .env.
		if strings.HasPrefix(v, "${") {
			v = strings.Repeat("s", 40)
		}
		t.Setenv(k, v)
	}
	if err := newApp().Run([]string{"hubgate", "check-config"}); err != nil {
		t.Fatalf("the compose file's hubgate environment: %v", err)
	}
	hubConfig, err := os.ReadFile("examples/compose/jupyterhub_config.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name": "whoami"`, `"url": "http://hubgate:4180"`, "access:services!service=whoami"} {
		if !strings.Contains(string(hubConfig), want) {
			t.Errorf("jupyterhub_config.py lacks %s", want)
		}
	}
	if env["HUBGATE_CLIENT_ID"] != "service-whoami" || env["HUBGATE_REDIRECT_URL"] != "/services/whoami/oauth_callback" {
		t.Error("hubgate's client id or callback differ from the Hub's defaults for service whoami")
	}
}

// TestImportOAuth2ProxyPassesCheckConfig: what import-oauth2-proxy prints for
// configurations in oauth2-proxy's documented format is a valid hubgate configuration.
func TestImportOAuth2ProxyPassesCheckConfig(t *testing.T) {
	for _, f := range []string{"github.cfg", "google.cfg", "oidc-endpoints.cfg", "keycloak.cfg"} {
		t.Run(f, func(t *testing.T) {
			var out, errs strings.Builder
			app := newApp()
			app.Writer, app.ErrWriter = &out, &errs
			if err := app.Run([]string{"hubgate", "import-oauth2-proxy", "--config", filepath.Join("oauth2proxy", "testdata", f)}); err != nil {
				t.Fatalf("import: %v\n%s", err, errs.String())
			}
			path := filepath.Join(t.TempDir(), "hubgate.yaml")
			if err := os.WriteFile(path, []byte(out.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := newApp().Run([]string{"hubgate", "check-config", "--config", path}); err != nil {
				t.Fatalf("check-config on the import: %v\n%s", err, out.String())
			}
		})
	}
	var out, errs strings.Builder
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errs
	err := app.Run([]string{"hubgate", "import-oauth2-proxy", "--provider=github", "--github-team=ops", "--upstream=http://127.0.0.1:1/"})
	if err == nil || !strings.Contains(err.Error(), "github_team") || out.Len() != 0 {
		t.Errorf("a restriction hubgate cannot check must stop the import with nothing printed: err=%v out=%q", err, out.String())
	}
}

// TestImportOAuth2ProxyHelp: the command's flags are oauth2-proxy's, but --help
// (anywhere) is its own usage, not an unknown oauth2-proxy flag.
func TestImportOAuth2ProxyHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--config", "x.cfg", "--help"}} {
		var out strings.Builder
		app := newApp()
		app.Writer, app.ErrWriter = &out, &out
		err := app.Run(append([]string{"hubgate", "import-oauth2-proxy"}, args...))
		if err != nil || !strings.Contains(out.String(), "USAGE:") || !strings.Contains(out.String(), "oauth2-proxy flags") {
			t.Errorf("%v: err %v, output %q; want the command's usage", args, err, out.String())
		}
	}
}
