# django-oauth-toolkit sends only `sub` in its ID tokens and userinfo answers. This
# validator adds the claims hubgate's provider oidc reads by default. In settings.py:
#   OAUTH2_PROVIDER = {
#       "OIDC_ENABLED": True,
#       "OIDC_RSA_PRIVATE_KEY": open("oidc.key").read(),  # openssl genrsa -out oidc.key 2048
#       "SCOPES": {"openid": "OpenID Connect", "profile": "Profile", "email": "E-mail"},
#       "OAUTH2_VALIDATOR_CLASS": "yourproject.oidc_validator.Validator",
#   }
# and give hubgate's Application the algorithm RS256. The integration tests run this
# file as it is (test/django_project.go).
from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    # From DOT 2.0 a claim is sent only if the scope it maps to was granted; groups
    # has no standard scope, so it goes with profile. DOT 1.x sends every claim.
    oidc_claim_scope = dict(getattr(OAuth2Validator, "oidc_claim_scope", {}), groups="profile")

    def get_additional_claims(self, request):
        user = request.user
        return {
            "preferred_username": user.get_username(),
            "email": user.email,
            "email_verified": bool(user.email),  # say True only for addresses the site checked
            "groups": sorted(g.name for g in user.groups.all()),
        }
