"""Answer only for our own host names (ALLOWED_HOSTS; PUBLIC_BASE_URL's host is always in it).

Links never come from the Host header any more (email_validation uses PUBLIC_BASE_URL), but a
service that answers for any name invites cache poisoning and DNS rebinding, and hides
misrouted traffic. ``/health`` is exempt: the load balancer's health checks use the instance's
IP as Host, and the answer reveals nothing.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.sansio.utils import host_is_trusted

from .errors import ApiError

EXEMPT_PATHS = ("/health",)


def install_host_check(app: Flask, allowed: tuple[str, ...]) -> None:
    trusted = list(allowed)

    @app.before_request
    def _check_host() -> None:
        if request.path in EXEMPT_PATHS:
            return
        host = request.environ.get("HTTP_HOST") or request.environ.get("SERVER_NAME", "")
        if not host_is_trusted(host, trusted):
            raise ApiError(421, "unknown_host", "this service does not answer for that host name")
