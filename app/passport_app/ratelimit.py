"""Per-client request limits (Flask-Limiter), keyed by the real client address.

The address is what ``ProxyFix`` leaves in ``REMOTE_ADDR`` after trusting exactly the proxies in
front of us (``TRUSTED_PROXY_HOPS``: on Elastic Beanstalk the load balancer and nginx each
append one ``X-Forwarded-For`` entry, so the client is the second entry from the right;
anything a client forges sits further left and is ignored).

Storage is honest about its reach: Flask-Limiter's in-memory storage counts *per gunicorn
worker*, so an instance admits up to ``workers x limit``; the fleet-wide limit is the WAF
rate-based rule in front of the load balancer (components/waf.py), and the per-address email
quota is fleet-wide through DynamoDB conditional writes (email_validation.py). A shared
counter store (Redis/ElastiCache) would make these limits fleet-wide too; we do not run one.

Trusted load generators (``RATE_LIMIT_EXEMPT_CIDRS``, stack config ``rateLimitExemptCidrs``)
are not counted: a load test from one machine is one client, and would otherwise measure the
limiter instead of the service. The same networks are excluded from the WAF's rate rule.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Flask, request
from flask_limiter import Limiter

from .config import Settings

#: Flask endpoint -> the Settings field holding its limit string.
LIMITED_ENDPOINTS = {
    "email.validate": "rate_limit_validate",
    "email.confirm_email": "rate_limit_confirm",
    "photos.create_photo": "rate_limit_photos",
}


def client_address() -> str:
    return request.remote_addr or "unknown"


def install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """One limiter per app (its own counters), applied to the public endpoints' views."""
    # Flask-Limiter logs each breach with its key, the client's address: personal data.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    limiter = Limiter(
        key_func=client_address,
        app=app,
        storage_uri="memory://",
        strategy="moving-window",
        # Off: with headers on, Flask-Limiter stamps its window's Retry-After on *every* answer of
        # a limited route, overriding the 2 s of a 503 busy with ~60 s. Our 429 handler sets
        # Retry-After from the breached limit itself (errors.rate_limit_retry_after).
        headers_enabled=False,
        key_prefix="passport",
    )
    exempt = [ipaddress.IPv4Network(c) for c in settings.rate_limit_exempt]

    @limiter.request_filter
    def _trusted_load_generator() -> bool:
        try:
            address = ipaddress.ip_address(client_address())
        except ValueError:
            return False
        return any(address in network for network in exempt)

    for endpoint, field in LIMITED_ENDPOINTS.items():
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.limit(getattr(settings, field))(view)
    return limiter
