"""gunicorn settings for a 2-vCPU Elastic Beanstalk instance (read by the Procfile command).

Photo requests are CPU-bound (~1 CPU-second each) and the rest is I/O to AWS, so: 2 worker
processes (one per vCPU; the model is loaded once in each) x 4 threads, each worker's ONNX/OpenCV
pool at 1 thread (workers x inference threads = vCPUs), and at most `workers` photos in
inference on the instance plus two waiting, at most three per worker
(app/passport_app/capacity.py; more get 503 busy + Retry-After). So one of the four threads is
always free for /health and email calls: the load balancer's health
check never queues behind inference. Chosen by measurement (benchmarks/bench_capacity.py,
docs/capacity.md): photos/s at 1 ORT thread per worker reach the machine's CPU floor, while 2
threads per worker only oversubscribe the cores. Slow clients: on AWS nginx buffers the whole
upload before gunicorn sees it (as the sandbox's load balancer does), so a client trickling
bytes never holds a gunicorn thread; `timeout` below still bounds a wedged worker.
"""

import os

# EB's nginx proxies to 127.0.0.1:8000 by default (PORT is set by the platform / the sandbox).
bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"

_cpus = os.cpu_count() or 2
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, min(_cpus, 4)))))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
os.environ.setdefault("ORT_INTRA_OP_THREADS", str(max(1, _cpus // workers)))
# Photos in inference at once on the instance: one per worker x ORT thread = vCPUs
# (app/passport_app/capacity.py; the workers inherit it).
os.environ.setdefault("INFERENCE_SLOTS", str(workers))

# The model loads in each worker after fork (ONNX sessions must not cross a fork).
preload_app = False


# rembg is imported by each worker, never by the master before the fork: threads that the
# ONNX/numba imports start in the master do not exist in a forked child, and a worker exiting
# with their locks held waited out the whole graceful_timeout (measured: 30.5 s per SIGTERM,
# 0.8 s without the master import). Every EB deploy and scale-in pays that wait. `make setup`
# warms numba's on-disk cache, so a worker's import is quick.

timeout = 60  # a single photo takes well under 5 s; 60 s only catches a wedged worker
graceful_timeout = 30
keepalive = 5  # above nginx's upstream keepalive idle time is not needed; ALB talks to nginx
max_requests = 1000  # recycle workers to bound memory growth from image buffers
max_requests_jitter = 100
# Request-head limits: gunicorn answers its own limits in HTML, so the proxy in front (EB's
# nginx via .platform/nginx/conf.d/header_limits.conf, the sandbox's front proxy) refuses
# smaller heads first with our JSON error (4 KiB per line, 16 KiB per head); these maxima are
# never reached through it.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 32768
# gunicorn 27 otherwise shares one control socket per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn/gunicorn.ctl) between every gunicorn on the host; we never use it.
control_socket_disable = True

accesslog = None  # the app writes one structured JSON line per request itself
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
capture_output = True


def post_fork(server, worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    """Bound each worker's heap: fewer malloc arenas (app/passport_app/capacity.py)."""
    from passport_app.capacity import limit_malloc_arenas

    limit_malloc_arenas()


def on_exit(server):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    """The instance-wide inference gate's slot files live exactly as long as this master."""
    import shutil

    from passport_app.capacity import gate_dir_for

    shutil.rmtree(gate_dir_for(os.getpid()), ignore_errors=True)
