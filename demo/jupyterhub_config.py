# JupyterHub config for `make demo` (see demo/run, which sets the DEMO_* variables).
# Reads everything variable from the environment so no templating step is needed.
import os
import secrets

env = os.environ
state = env["DEMO_STATE_DIR"]  # temp dir: db, cookie secret and pid file live and die here

c = get_config()  # noqa: F821 (provided by JupyterHub)

# Only loopback: this is a demo with a shared password.
c.JupyterHub.bind_url = f"http://127.0.0.1:{env['DEMO_HUB_PORT']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["DEMO_HUB_API_PORT"])
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['DEMO_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.auth_token = secrets.token_hex(32)
c.ConfigurableHTTPProxy.pid_file = f"{state}/jupyterhub-proxy.pid"
# Users have no notebook servers here, so land on the demo app instead of spawning one.
c.JupyterHub.default_url = "/services/whoami/"

# Anyone listed may log in with the shared password.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "demo"
c.Authenticator.allowed_users = {"alice", "bob"}
c.Authenticator.admin_users = {"admin"}
c.JupyterHub.load_groups = {"staff": ["alice"]}

# hubgate as a Hub-managed service: the Hub starts it with the JUPYTERHUB_* env,
# and hubgate serves /services/whoami/ on `url`, forwarding to the whoami app.
c.JupyterHub.services = [
    {
        "name": "whoami",
        "url": f"http://127.0.0.1:{env['DEMO_SERVICE_PORT']}",
        "command": [env["HUBGATE_BIN"]],
        "environment": {
            "HUBGATE_UPSTREAM": f"http://127.0.0.1:{env['DEMO_WHOAMI_PORT']}",
            "HUBGATE_LOG_FORMAT": "console",
        },
        "api_token": secrets.token_hex(32),
        "oauth_no_confirm": True,
    }
]

# Ordinary users may use the service (by default they may only reach their own server).
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "access:services!service=whoami"]},
]
