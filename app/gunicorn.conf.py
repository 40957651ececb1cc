"""gunicorn settings for a 2-vCPU Elastic Beanstalk instance (read by the Procfile command).

Photo requests are CPU-bound (ONNX inference ~0.2-0.5 s) and the rest is I/O to AWS, so:
2 worker processes (one per vCPU; the model is loaded once in each) x 4 threads (so health checks
and email calls are not queued behind an inference), and each worker's ONNX/OpenCV thread pool
capped so workers x inference threads = vCPUs instead of oversubscribing the CPU.
"""

import os

# EB's nginx proxies to 127.0.0.1:8000 by default (PORT is set by the platform / the sandbox).
bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"

_cpus = os.cpu_count() or 2
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, min(_cpus, 4)))))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
os.environ.setdefault("ORT_INTRA_OP_THREADS", str(max(1, _cpus // workers)))

# The model loads in each worker after fork (ONNX sessions must not cross a fork).
preload_app = False


# Import rembg (numba-compiled helpers, cached on disk by `make setup` / the first start) once in
# the master, before forking: workers inherit it instead of each paying for the import, and a
# cold numba cache cannot make a booting worker miss its heartbeat.
def on_starting(server):  # noqa: ARG001 - gunicorn hook signature
    import rembg  # noqa: F401


timeout = 60  # a single photo takes well under 5 s; 60 s only catches a wedged worker
graceful_timeout = 30
keepalive = 5  # above nginx's upstream keepalive idle time is not needed; ALB talks to nginx
max_requests = 1000  # recycle workers to bound memory growth from image buffers
max_requests_jitter = 100
limit_request_line = 8190

accesslog = None  # the app writes one structured JSON line per request itself
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
capture_output = True
