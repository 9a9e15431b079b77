# The userdata view hubgate reads (the pattern of "Integrating JupyterHub with Django
# using OAuth"). Route it in urls.py: path("userdata/", userdata).
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
