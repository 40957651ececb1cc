"""Redirect plain HTTP to HTTPS when the environment's load balancer terminates TLS (FORCE_HTTPS).

Why in the app and not an ALB listener rule: Elastic Beanstalk's option settings cannot express a
redirect on the port-80 listener, and the listener EB creates is not a Pulumi resource (a
``.ebextensions`` CloudFormation override could add one, but nothing here could exercise it). The
ALB tells the app which scheme the client used in ``X-Forwarded-Proto`` (nginx passes it on), so
the app redirects exactly the requests that arrived over HTTP, on AWS and in the sandbox alike.

- The target is built from PUBLIC_BASE_URL's host, never from the request's Host header: a
  redirect to whatever name the client sent would be an open redirect (docs/threat-model.md).
- ``/health`` is exempt: the ALB's health checks reach the instance over plain HTTP with no
  ``X-Forwarded-Proto``; a 308 there would mark every instance unhealthy.
- Requests with no ``X-Forwarded-Proto`` (straight to the instance) are not redirected either:
  only the load balancer's own view of the client's scheme counts.
- 308 (not 301) keeps the method and body, so a POST is repeated over HTTPS rather than turned
  into a GET.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, redirect, request

EXEMPT_PATHS = ("/health",)


def https_origin(public_base_url: str) -> str:
    """``https://host[:port]`` of the public URL (its port kept only if it already is https)."""
    parts = urlsplit(public_base_url)
    netloc = parts.netloc if parts.scheme == "https" else (parts.hostname or "")
    return f"https://{netloc}"


def install_https_redirect(app: Flask, public_base_url: str) -> None:
    origin = https_origin(public_base_url)

    @app.before_request
    def _redirect_http():  # type: ignore[no-untyped-def]
        if request.path in EXEMPT_PATHS:
            return None
        # The last value is the one the nearest trusted proxy (the ALB) wrote.
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
        if forwarded != "http":
            return None
        query = request.query_string.decode("latin-1")
        target = origin + request.path + (f"?{query}" if query else "")
        return redirect(target, code=308)
