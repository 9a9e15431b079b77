package oauth2proxy

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// provider maps the identity provider, its endpoints and who it lets in.
func (tr *translator) provider() {
	s := tr.src
	tr.take("provider", "client_id", "redirect_url", "scope", "provider_display_name", "skip_provider_button",
		"approval_prompt", "prompt", "acr_values", "resource", "code_challenge_method", "force_code_challenge_method")
	name := s.str("provider")
	if name == "" {
		name = "google" // oauth2-proxy's default
	}
	switch name {
	case "github":
		tr.github()
	case "google":
		tr.google()
	case "oidc", "keycloak-oidc":
		tr.oidc(name)
	case "keycloak":
		tr.keycloak()
	default:
		tr.refuse("provider", "%q has no hubgate preset; describe its endpoints with provider generic (authorize_url, token_url, userdata_url)", name)
		return
	}
	tr.out.put("client_id", s.str("client_id"))
	if secret, _ := tr.secret("client_secret"); secret != "" {
		tr.out.put("client_secret", secret)
	} else {
		tr.refuse("client_secret", "is not set; hubgate needs the client's secret")
	}
	if s.has("redirect_url") {
		tr.out.put("redirect_url", s.str("redirect_url"))
	} else {
		prefix := "/oauth2"
		if s.has("proxy_prefix") {
			prefix = s.str("proxy_prefix")
		}
		tr.refuse("redirect_url", "is not set: oauth2-proxy made it from each request's Host, hubgate needs it written down; add --redirect-url=https://YOUR.HOST%s/callback", prefix)
	}
	if scope := strings.Fields(s.str("scope")); len(scope) > 0 {
		tr.out.put("scope", scope)
	}
	if s.has("provider_display_name") {
		tr.out.put("login_service", s.str("provider_display_name"))
	}
	// oauth2-proxy shows its sign-in page unless told not to; hubgate skips it by default.
	tr.out.put("skip_sign_in_page", s.boolean("skip_provider_button"))
	tr.authorizeParams()
	if m := s.str("code_challenge_method") + s.str("force_code_challenge_method"); m != "" && m != "S256" {
		tr.note("code_challenge_method", "not carried over: hubgate always sends PKCE with S256")
	}
	if s.has("allowed_groups") {
		tr.take("allowed_groups")
		_, groupsKey := tr.out.Get("groups_key")
		_, groupsClaim := tr.out.Get("groups_claim")
		if !groupsKey && !groupsClaim && name != "keycloak" {
			tr.refuse("allowed_groups", "provider %s gives hubgate no groups to check", name)
		} else {
			tr.addList("allowed_groups", s.list("allowed_groups"))
		}
	}
}

// authorizeParams carries the parameters oauth2-proxy adds to the login URL.
func (tr *translator) authorizeParams() {
	s := tr.src
	params := map[string]string{}
	switch {
	case s.has("prompt"):
		params["prompt"] = s.str("prompt")
	case s.has("approval_prompt"):
		params["approval_prompt"] = s.str("approval_prompt")
	}
	for _, name := range []string{"acr_values", "resource"} {
		if s.has(name) {
			params[name] = s.str(name)
		}
	}
	if len(params) > 0 {
		tr.out.put("extra_authorize_params", params)
	}
}

func (tr *translator) addList(key string, items []string) {
	if prev, ok := tr.out.Get(key); ok {
		items = append(prev.([]string), items...)
	}
	tr.out.put(key, items)
}

// everyEmail accepts email_domains only as oauth2-proxy's "*" (every address): a
// list of domains is a rule hubgate checks for provider google only.
func (tr *translator) everyEmail() {
	domains := tr.src.list("email_domains")
	tr.take("email_domains")
	if len(domains) == 1 && domains[0] == "*" {
		return
	}
	if len(domains) > 0 {
		tr.refuse("email_domains", "restricts who may pass by e-mail domain, which hubgate checks only for provider google; remove it and restrict with allowed_users or allowed_groups")
	} else if !tr.src.has("authenticated_emails_file") {
		tr.refuse("email_domains", "is not set, so oauth2-proxy let nobody in; set email_domains = [\"*\"] if the other rules decide")
	}
}

func (tr *translator) github() {
	s := tr.src
	tr.out.put("provider", "github")
	tr.take("github_org", "github_team", "github_repo", "github_token", "github_users", "login_url", "redeem_url", "validate_url")
	tr.everyEmail()
	if s.has("login_url") {
		tr.out.put("authorize_url", s.str("login_url"))
	}
	if s.has("redeem_url") {
		tr.out.put("token_url", s.str("redeem_url"))
	}
	if s.has("validate_url") { // GitHub Enterprise: https://HOST/api/v3
		tr.out.put("userdata_url", strings.TrimSuffix(s.str("validate_url"), "/")+"/user")
	}
	if org := s.str("github_org"); org != "" {
		tr.out.put("allowed_organizations", []string{org})
	}
	for _, name := range []string{"github_team", "github_repo"} {
		if s.str(name) != "" {
			tr.refuse(name, "restricts who may pass, and hubgate checks GitHub organizations only (allowed_organizations); remove it to convert")
		}
	}
	if users := s.list("github_users"); len(users) > 0 {
		tr.out.put("allowed_users", users)
		if s.str("github_org") != "" {
			tr.note("github_users", "narrower in hubgate: these users must also be members of %s (oauth2-proxy let them in without)", s.str("github_org"))
		}
	}
}

func (tr *translator) google() {
	s := tr.src
	tr.out.put("provider", "google")
	tr.take("email_domains", "authenticated_emails_file", "google_admin_email", "google_group", "google_groups",
		"google_service_account_json", "google_target_principal", "google_use_application_default_credentials",
		"google_admin_api_user_scope", "google_use_organization_id")
	for _, name := range []string{"google_group", "google_groups"} {
		if len(s.list(name)) > 0 {
			tr.refuse(name, "restricts who may pass by Google group, which hubgate does not read; remove it and restrict with allowed_users or hosted_domain")
		}
	}
	domains := s.list("email_domains")
	anyone := len(domains) == 1 && domains[0] == "*"
	switch {
	case s.has("authenticated_emails_file") && len(domains) > 0 && !anyone:
		tr.refuse("authenticated_emails_file", "with email_domains lets in the file's addresses or the domains', which hubgate cannot say in one rule; keep one of the two to convert")
	case s.has("authenticated_emails_file") && !anyone:
		tr.out.put("allowed_users", tr.emailsFile()) // google's hubgate username is the e-mail
	case len(domains) > 0 && !anyone:
		tr.out.put("hosted_domain", domains)
		tr.note("email_domains", "replaced by hosted_domain: hubgate checks the Google Workspace domain (hd) of the verified ID token, which is narrower for accounts whose address is on a domain outside Workspace")
	case len(domains) == 0:
		tr.refuse("email_domains", "is not set, so oauth2-proxy let nobody in; set email_domains = [\"*\"] or list the domains")
	}
}

// oidc maps provider oidc (and keycloak-oidc): with discovery to hubgate's provider
// oidc, which verifies the ID token as oauth2-proxy did; with skip_oidc_discovery and
// the endpoints written out to provider generic, as plain OAuth2.
func (tr *translator) oidc(name string) {
	if tr.src.boolean("skip_oidc_discovery") {
		tr.oidcEndpoints(name)
		return
	}
	tr.oidcDiscovery(name)
}

// oidcDiscovery writes provider oidc: the issuer, the claims and the JWT bearer
// options carry over; the endpoints and keys come from discovery, as in oauth2-proxy.
func (tr *translator) oidcDiscovery(name string) {
	s := tr.src
	tr.take("oidc_issuer_url", "skip_oidc_discovery", "oidc_email_claim", "oidc_groups_claim", "user_id_claim",
		"oidc_extra_audiences", "skip_jwt_bearer_tokens", "extra_jwt_issuers", "insecure_oidc_allow_unverified_email")
	issuer := s.str("oidc_issuer_url")
	if issuer == "" {
		tr.refuse("oidc_issuer_url", "is not set; provider %s needs the issuer (or skip_oidc_discovery with login_url, redeem_url and profile_url)", name)
		return
	}
	tr.everyEmail()
	tr.out.put("provider", "oidc")
	tr.out.put("oidc_issuer_url", issuer)
	// oauth2-proxy's user is the ID token's sub; hubgate's default is preferred_username.
	tr.out.put("username_claim", claim(s.str("user_id_claim"), "sub"))
	tr.out.put("email_claim", claim(s.str("oidc_email_claim"), "email"))
	tr.out.put("groups_claim", claim(s.str("oidc_groups_claim"), "groups"))
	if s.str("user_id_claim") != "" {
		tr.note("user_id_claim", "carried over as username_claim: oauth2-proxy v7 sent the ID token's sub as the user and read this claim as the e-mail (when oidc_email_claim was left as it is); hubgate's user is this claim")
	}
	if auds := s.list("oidc_extra_audiences"); len(auds) > 0 {
		tr.out.put("oidc_extra_audiences", auds)
	}
	if s.boolean("insecure_oidc_allow_unverified_email") {
		tr.out.put("oidc_allow_unverified_email", true)
	} else {
		lockedOut := ""
		if claim(s.str("user_id_claim"), "sub") == claim(s.str("oidc_email_claim"), "email") {
			lockedOut = ", and without it users whose username is that address cannot sign in"
		}
		tr.note("provider", "%s: hubgate's provider oidc keeps an e-mail address only when the issuer says email_verified: true (oauth2-proxy refused only an explicit false); for an issuer that sends no email_verified (Entra ID) set oidc_allow_unverified_email: true%s", name, lockedOut)
	}
	if s.boolean("skip_jwt_bearer_tokens") {
		tr.out.put("skip_jwt_bearer_tokens", true)
	}
	if iss := s.list("extra_jwt_issuers"); len(iss) > 0 {
		tr.out.put("extra_jwt_issuers", iss)
		if !s.boolean("skip_jwt_bearer_tokens") {
			tr.note("extra_jwt_issuers", "has no effect without skip_jwt_bearer_tokens, in hubgate as in oauth2-proxy")
		}
	}
	for _, opt := range slices.Sorted(maps.Keys(discoveryFates)) {
		if tr.take(opt) {
			tr.note(opt, "%s", discoveryFates[opt])
		}
	}
	// Flags whose false is hubgate's behaviour.
	for _, f := range [][2]string{
		{"insecure_oidc_skip_issuer_verification", "unsupported: hubgate wants the discovery document's issuer to be exactly oidc_issuer_url, and exits at start naming it otherwise"},
		{"insecure_oidc_skip_nonce", "not needed: hubgate always sends a nonce and checks it in the ID token"},
		{"skip_claims_from_profile_url", "unsupported: provider oidc always asks userinfo (it is how a revoked token stops working), the verified ID token first"},
	} {
		if tr.take(f[0]) && s.boolean(f[0]) {
			tr.note(f[0], "%s", f[1])
		}
	}
	if tr.take("oidc_audience_claims") && !slices.Equal(s.list("oidc_audience_claims"), []string{"aud"}) {
		tr.note("oidc_audience_claims", "unsupported: hubgate checks aud (client_id or oidc_extra_audiences)")
	}
	if tr.take("backend_logout_url") {
		tr.note("backend_logout_url", "replaced by oidc_logout, not turned on: with it, hubgate's sign-out sends the browser on to the issuer's end_session_endpoint (with id_token_hint) instead of calling a URL itself; register %s as a post-logout redirect URI at the issuer, then set oidc_logout: true", tr.signOutURL())
	}
}

// discoveryFates are the options provider oidc does without, with the reason.
var discoveryFates = map[string]string{
	"login_url":                 "not needed: provider oidc takes the endpoints from discovery (oauth2-proxy did too)",
	"redeem_url":                "not needed: provider oidc takes the endpoints from discovery (oauth2-proxy did too)",
	"profile_url":               "not needed: provider oidc takes the endpoints from discovery (oauth2-proxy did too)",
	"validate_url":              "not needed: provider oidc checks tokens at the discovered userinfo endpoint",
	"oidc_jwks_url":             "not needed: provider oidc takes the keys from the discovered jwks_uri",
	"oidc_enabled_signing_algs": "not carried over: hubgate accepts the signatures the issuer announces among RS*, PS*, ES* and EdDSA, never none or HS*",
	"oidc_public_key_files":     "unsupported: provider oidc verifies with the keys at the discovered jwks_uri only",
}

// signOutURL is where hubgate's sign-out is, from redirect_url and proxy_prefix.
func (tr *translator) signOutURL() string {
	prefix := "/oauth2"
	if tr.src.has("proxy_prefix") {
		prefix = strings.TrimSuffix(tr.src.str("proxy_prefix"), "/")
	}
	base := "<scheme>://<host>"
	if u, err := url.Parse(tr.src.str("redirect_url")); err == nil && u.Scheme != "" && u.Host != "" {
		base = u.Scheme + "://" + u.Host
	}
	return base + prefix + "/sign_out"
}

// oidcEndpoints maps provider oidc with the endpoints written out (skip_oidc_discovery)
// to provider generic: identity from profile_url, no ID token verified.
func (tr *translator) oidcEndpoints(name string) {
	s := tr.src
	tr.take("oidc_issuer_url", "skip_oidc_discovery", "login_url", "redeem_url", "profile_url", "validate_url",
		"oidc_email_claim", "oidc_groups_claim", "user_id_claim", "oidc_jwks_url")
	if s.str("login_url") == "" || s.str("redeem_url") == "" || s.str("profile_url") == "" {
		tr.refuse("provider", "%s with skip_oidc_discovery needs login_url, redeem_url and profile_url (the userinfo endpoint); or drop skip_oidc_discovery to use hubgate's provider oidc with oidc_issuer_url", name)
		return
	}
	// user_id_claim names the claim oauth2-proxy takes the user from.
	tr.generic(claim(s.str("user_id_claim"), "sub"), claim(s.str("oidc_email_claim"), "email"), claim(s.str("oidc_groups_claim"), "groups"))
	if s.has("oidc_jwks_url") {
		tr.note("oidc_jwks_url", "not needed: hubgate takes the identity from profile_url; it verifies no ID token")
	}
	if !s.has("scope") {
		tr.out.put("scope", []string{"openid", "email", "profile"})
	}
}

func claim(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// keycloak maps the legacy keycloak provider: endpoints given, identity from userinfo.
func (tr *translator) keycloak() {
	s := tr.src
	tr.take("login_url", "redeem_url", "profile_url", "validate_url", "keycloak_groups")
	if s.str("login_url") == "" || s.str("redeem_url") == "" || s.str("profile_url") == "" {
		tr.refuse("provider", "keycloak needs login_url, redeem_url and profile_url")
		return
	}
	tr.generic("preferred_username", "email", "groups")
	if groups := s.list("keycloak_groups"); len(groups) > 0 {
		tr.addList("allowed_groups", groups)
	}
}

// generic writes provider generic with the endpoints oauth2-proxy was given.
func (tr *translator) generic(username, email, groups string) {
	s := tr.src
	tr.everyEmail()
	tr.out.put("provider", "generic")
	tr.out.put("authorize_url", s.str("login_url"))
	tr.out.put("token_url", s.str("redeem_url"))
	tr.out.put("userdata_url", s.str("profile_url"))
	tr.out.put("username_key", username)
	tr.out.put("email_key", email)
	tr.out.put("groups_key", groups)
	if s.has("validate_url") {
		tr.note("validate_url", "not needed: hubgate checks tokens at userdata_url (profile_url)")
	}
}

// restrictive are options that keep users out which hubgate cannot check: dropping
// one would let them in, so the translation refuses instead.
var restrictive = map[string]string{
	"allowed_roles":             "roles",
	"authenticated_emails_file": "an e-mail list, read only for provider google",
	"email_domains":             "e-mail domains, checked only for provider google",
	"github_org":                "only for provider github",
	"github_team":               "only for provider github",
	"github_repo":               "only for provider github",
	"github_users":              "only for provider github",
	"gitlab_groups":             "GitLab groups",
	"gitlab_projects":           "GitLab projects",
	"bitbucket_team":            "Bitbucket teams",
	"bitbucket_repository":      "Bitbucket repositories",
	"entra_id_allowed_tenants":  "Entra ID tenants",
	"google_group":              "Google groups",
	"google_groups":             "Google groups",
	"keycloak_groups":           "only for provider keycloak",
	"htpasswd_user_groups":      "password-file groups",
}

// Reasons for the options hubgate does without.
const (
	logging   = "not needed: hubgate logs JSON lines to stderr (log_format, log_level); each request's line has method, path, status, duration and user"
	pages     = "unsupported: hubgate's pages have no themes or templates"
	verifyTLS = "unsupported: hubgate always verifies certificates; trust a private CA with the SSL_CERT_FILE environment variable"
	noJWT     = "unsupported here: hubgate verifies bearer JWTs only with provider oidc (oidc_issuer_url without skip_oidc_discovery); this provider checks bearer tokens at the provider"
	noIDToken = "not needed: hubgate takes the identity from the userdata endpoint; it verifies no ID token"
	csrf      = "not needed: hubgate keeps its own login-state cookies, a few per browser"
)

var fates = map[string]string{
	"allow_query_semicolons":                     "not needed: hubgate forwards the query as the client sent it",
	"api_routes":                                 "not needed: hubgate redirects only a browser loading a page to the login; other requests get 401",
	"auth_logging":                               logging,
	"auth_logging_format":                        logging,
	"auth_request_response_mode":                 "unsupported: <prefix>/auth answers oauth2-proxy's default way (202, 401 or 403)",
	"azure_graph_group_field":                    "unsupported: provider azure has no hubgate preset",
	"azure_tenant":                               "unsupported: provider azure has no hubgate preset",
	"backend_logout_url":                         "unsupported: with provider jupyterhub, hub_logout continues sign-out at the Hub",
	"banner":                                     pages,
	"bearer_token_login_fallback":                "not needed: a refused bearer token always gets 401",
	"cookie_csrf_expire":                         csrf,
	"cookie_csrf_per_request":                    csrf,
	"cookie_csrf_per_request_limit":              csrf,
	"cookie_csrf_samesite":                       csrf,
	"custom_sign_in_logo":                        pages,
	"custom_templates_dir":                       pages,
	"disable_keep_alives":                        "unsupported: hubgate keeps connections to the upstream alive",
	"display_htpasswd_form":                      pages,
	"encode_state":                               "not needed: hubgate's login state is its own",
	"entra_id_federated_token_auth":              "unsupported: provider entra-id has no hubgate preset",
	"errors_to_info_log":                         logging,
	"exclude_logging_paths":                      logging,
	"extra_jwt_issuers":                          noJWT,
	"flush_interval":                             "not needed: hubgate passes streamed responses (SSE, unknown length) on as they arrive",
	"footer":                                     pages,
	"force_https":                                "unsupported: redirect http to https in the web server in front",
	"force_json_errors":                          "not needed: hubgate answers JSON to clients that do not accept HTML",
	"gcp_healthchecks":                           "not needed: hubgate answers /ping and /ready",
	"htpasswd_file":                              "unsupported: hubgate signs users in through the provider only, without a password file",
	"insecure_oidc_allow_unverified_email":       noIDToken,
	"insecure_oidc_skip_issuer_verification":     noIDToken,
	"insecure_oidc_skip_nonce":                   noIDToken,
	"jwt_key":                                    "unsupported: provider login.gov has no hubgate preset",
	"jwt_key_file":                               "unsupported: provider login.gov has no hubgate preset",
	"logging_compress":                           logging,
	"logging_filename":                           logging,
	"logging_local_time":                         logging,
	"logging_max_age":                            logging,
	"logging_max_backups":                        logging,
	"logging_max_size":                           logging,
	"metrics_secure_address":                     "unsupported: metrics are served over plain HTTP on metrics_listen",
	"metrics_tls_cert_file":                      "unsupported: metrics are served over plain HTTP on metrics_listen",
	"metrics_tls_key_file":                       "unsupported: metrics are served over plain HTTP on metrics_listen",
	"oidc_audience_claims":                       noIDToken,
	"oidc_enabled_signing_algs":                  noIDToken,
	"oidc_extra_audiences":                       noIDToken,
	"oidc_public_key_files":                      noIDToken,
	"pass_authorization_header":                  "unsupported: hubgate sends no ID token upstream",
	"ping_user_agent":                            "unsupported: hubgate answers health checks at /ping",
	"provider_ca_files":                          "replaced by the SSL_CERT_FILE environment variable (a PEM file of trusted CAs)",
	"proxy_websockets":                           "not needed: hubgate always passes WebSockets on",
	"pubjwk_url":                                 "unsupported: provider login.gov has no hubgate preset",
	"real_client_ip_header":                      "not needed: hubgate takes the client's address from trusted proxies' X-Forwarded-For",
	"relative_redirect_url":                      "not needed: redirect_url may be a path for a JupyterHub-managed service",
	"request_id_header":                          "unsupported: hubgate's log lines carry no request id",
	"request_logging_format":                     logging,
	"session_cookie_minimal":                     "not needed: hubgate's cookie holds what the session needs",
	"set_authorization_header":                   "unsupported: hubgate sends no ID token",
	"set_basic_auth":                             "unsupported: hubgate sends no Authorization: Basic",
	"show_debug_on_error":                        "unsupported: hubgate's error pages never show internals",
	"signature_key":                              "unsupported: hubgate signs no requests to the upstream (GAP-Signature)",
	"silence_ping_logging":                       logging,
	"skip_claims_from_profile_url":               "unsupported: the identity always comes from the userdata endpoint",
	"skip_jwt_bearer_tokens":                     noJWT,
	"ssl_insecure_skip_verify":                   verifyTLS,
	"ssl_upstream_insecure_skip_verify":          verifyTLS,
	"standard_logging":                           logging,
	"standard_logging_format":                    logging,
	"tls_cipher_suites":                          "unsupported: hubgate uses Go's TLS defaults (TLS 1.2 and later, modern ciphers)",
	"tls_min_version":                            "unsupported: hubgate uses Go's TLS defaults (TLS 1.2 and later, modern ciphers)",
	"use_system_trust_store":                     "not needed: hubgate uses the system's trust store",
	"google_admin_api_user_scope":                "not needed: hubgate reads no Google groups",
	"google_admin_email":                         "not needed: hubgate reads no Google groups",
	"google_service_account_json":                "not needed: hubgate reads no Google groups",
	"google_target_principal":                    "not needed: hubgate reads no Google groups",
	"google_use_application_default_credentials": "not needed: hubgate reads no Google groups",
	"google_use_organization_id":                 "not needed: hubgate reads no Google groups",
	"github_token":                               "not needed: only github_repo uses it",
	"login_url":                                  "not needed: provider presets know their endpoints",
	"redeem_url":                                 "not needed: provider presets know their endpoints",
	"profile_url":                                "not needed: provider presets know their endpoints",
	"validate_url":                               "not needed: provider presets know their endpoints",
	"oidc_issuer_url":                            "not needed: only provider oidc uses it",
	"oidc_jwks_url":                              noIDToken,
	"oidc_email_claim":                           "not needed: only provider oidc uses it",
	"oidc_groups_claim":                          "not needed: only provider oidc uses it",
	"user_id_claim":                              "not needed: only provider oidc uses it",
	"skip_oidc_discovery":                        "not needed: only provider oidc uses it",
}
