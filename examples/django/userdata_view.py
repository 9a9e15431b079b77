# The userdata view hubgate reads: the token's owner as JSON, behind DOT's
# protected_resource (docs/peers.md, django-oauth-toolkit, "Identity view").
# Route it in urls.py: path("userdata/", userdata).
from django.http import JsonResponse
from oauth2_provider.decorators import protected_resource


@protected_resource()
def userdata(request):
    user = request.resource_owner
    return JsonResponse({
        "username": user.username,
        "email": user.email,
        "groups": [g.name for g in user.groups.all()],
        "is_staff": user.is_staff,
    })
