"""The links the service sends, Location (B02) and Link (B03): never from the request's Host.

The client writes the Host header, so a link built from it points wherever the client says, and
a cache or proxy between them hands that link on to others. A link is PUBLIC_BASE_URL and the
path when that is set, else a relative reference, which RFC 9110 (10.2.2) allows in Location and
RFC 8288 in Link: the client resolves it against the URL it asked for.
"""

from fastapi import Request
from starlette.types import Scope


def public_url(request: Request, path: str, query: str = "") -> str:
    """The link to `path`, a path of this app (without the proxy's root path)."""
    base: str | None = request.app.state.settings.public_base_url
    if base is None:
        # One leading slash: `//name/...` would be a reference to another host.
        target = "/" + (request.scope.get("root_path", "") + path).lstrip("/")
    else:
        target = base + path
    return f"{target}?{query}" if query else target


def link_to(request: Request, name: str, /, **path_params: object) -> str:
    """The link to the route called `name`, with these path parameters."""
    return public_url(request, str(request.app.url_path_for(name, **path_params)))


def link_here(request: Request, **query_params: str | int) -> str:
    """The link to this request's own route, with these query parameters set."""
    query = request.url.include_query_params(**query_params).query
    return public_url(request, route_path(request.scope), query)


def route_path(scope: Scope) -> str:
    """The request's path within this app: without the root path a proxy serves it under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path
