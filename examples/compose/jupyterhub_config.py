# JupyterHub for the compose example: dummy logins, and hubgate registered as the
# external service "whoami" that the Hub's proxy routes /services/whoami/ to.
import os

c = get_config()  # noqa: F821

c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = "jupyterhub"

# Demo logins: any password. Use a real authenticator in production.
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {"alice", "bob"}
c.JupyterHub.load_groups = {"staff": {"users": ["alice"]}}

c.JupyterHub.services = [
    {
        "name": "whoami",
        "url": "http://hubgate:4180",  # the proxy keeps the /services/whoami/ prefix
        "api_token": os.environ["HUBGATE_API_TOKEN"],  # hubgate's client secret
        "oauth_no_confirm": True,
        # oauth_client_id defaults to service-whoami and oauth_redirect_uri to
        # /services/whoami/oauth_callback: hubgate's HUBGATE_CLIENT_ID and REDIRECT_URL.
    }
]
# The default user role lacks the access scope every service needs.
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "access:services!service=whoami"]},
]
