"""Passport Photo backend: the Flask application factory.

Imported as ``passport_app`` from the bundle root (``application.py``), so everything inside this
package uses relative imports only.
"""

from __future__ import annotations

import logging
import os

import cv2
from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from . import capacity
from .aws import AwsClients, make_clients
from .background import BackgroundRemover
from .config import ConfigError, Settings, load_settings
from .errors import register_error_handlers
from .hosts import install_host_check
from .https_redirect import install_https_redirect
from .logs import REQUEST_ID_HEADER, configure_logging, install_request_logging
from .ratelimit import install_rate_limits
from .routes import email, health, photos
from .services import EXTENSION_KEY, Services

__all__ = ["ConfigError", "Settings", "create_app", "load_settings"]

log = logging.getLogger("passport_app")

#: Multipart framing around the file; the file itself is held to MAX_UPLOAD_MB exactly.
MULTIPART_SLACK = 256 * 1024

EXPOSED_HEADERS = [
    "X-Passport-Format",
    "X-Passport-Face-Box",
    "X-Passport-Compliance",
    "X-Passport-Processing-Ms",
    "X-Passport-Photo-Key",
    REQUEST_ID_HEADER,
]


def inference_threads() -> int:
    """ONNX/OpenCV threads per worker: ORT_INTRA_OP_THREADS (gunicorn.conf.py sets it so that
    workers x threads = vCPUs), else up to 2 for a single-process run."""
    raw = os.environ.get("ORT_INTRA_OP_THREADS", "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, min(2, os.cpu_count() or 1))


def create_app(
    settings: Settings | None = None,
    *,
    clients: AwsClients | None = None,
    remover: BackgroundRemover | None = None,
) -> Flask:
    """Build the app; loads the model once (per gunicorn worker, as each imports this).

    A missing or broken model does not stop the app: it starts, logs why, reports it in
    /health (503) and answers photo requests with 503 model_unavailable.
    """
    configure_logging()
    settings = settings or load_settings()
    threads = inference_threads()
    cv2.setNumThreads(threads)

    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + MULTIPART_SLACK,
        MAX_UPLOAD_MB=settings.max_upload_mb,
        JSON_SORT_KEYS=False,
    )
    # EB: ALB -> nginx -> gunicorn; each appends one X-Forwarded-For entry, so the client is
    # the 2nd from the right (the sandbox's front proxy appends the same two). Trusting more
    # would let a forged header choose the address the rate limits key on.
    hops = settings.trusted_proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=1)  # type: ignore[method-assign]

    if remover is None:
        remover = BackgroundRemover(settings.rembg_model, settings.model_file, threads)
        remover.load()
    app.extensions[EXTENSION_KEY] = Services(
        settings=settings, clients=clients or make_clients(settings), remover=remover
    )

    if settings.cors_allowed_origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": list(settings.cors_allowed_origins)}},
            methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", REQUEST_ID_HEADER],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )

    install_request_logging(app)
    register_error_handlers(app)
    install_host_check(app, settings.allowed_hosts)
    if settings.force_https:
        install_https_redirect(app, settings.public_base_url)
    capacity.install(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(photos.bp)
    app.register_blueprint(email.bp)
    install_rate_limits(app, settings)
    log.info(
        "app started",
        extra={
            "version": settings.app_version,
            "model": settings.rembg_model,
            "model_loaded": remover.loaded,
            "max_upload_mb": settings.max_upload_mb,
            "cors_origins": list(settings.cors_allowed_origins),
            "threads": threads,
        },
    )
    return app
