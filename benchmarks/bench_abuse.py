"""The attacks of issue 12, replayed through the real app on a real moto server: prints JSON.

Run it against any checkout (the argument is its root) to compare before and after a change:

    .venv/bin/python benchmarks/bench_abuse.py . > after.json
    .venv/bin/python benchmarks/bench_abuse.py /path/to/old/checkout > before.json

App logs go to stdout before the JSON; the JSON is the last block. Figures: docs/threat-model.md.
"""

import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "app"))
os.chdir(ROOT)
from common.contracts import SANDBOX_AWS_ENV  # noqa: E402 - after sys.path
from sandbox.moto_server import free_port, start_threaded_moto  # noqa: E402 - after sys.path

server, url = start_threaded_moto()
os.environ.update(SANDBOX_AWS_ENV)
os.environ["AWS_ENDPOINT_URL"] = url
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
import boto3  # noqa: E402 - after sys.path
from passport_app import create_app, load_settings  # noqa: E402 - after sys.path
from passport_app.background import BackgroundRemover  # noqa: E402 - after sys.path
from PIL import Image  # noqa: E402 - after sys.path

from app.bundle import build_bundle  # noqa: E402 - after sys.path
from app.dev_resources import ensure_app_resources, serve_bundle  # noqa: E402 - after sys.path

ENV = {
    "APP_VERSION": "v-m",
    "EMAIL_TABLE": "m-emails",
    "ANALYTICS_TABLE": "m-analytics",
    "MEDIA_BUCKET": "m-media",
    "SENDER_EMAIL": "noreply@passport.example.com",
    "REMBG_MODEL": "u2netp",
    "U2NET_HOME": "models",
    "MAX_UPLOAD_MB": "5",
    "AWS_REGION": "us-east-1",
    "PUBLIC_BASE_URL": "https://photos.example.com",
    "ALLOWED_HOSTS": "localhost,127.0.0.1",
}
ensure_app_resources(ENV)
settings = load_settings(ENV)
remover = BackgroundRemover("u2netp", settings.model_file, 2)
remover.load()
app = create_app(settings, remover=remover)
c = app.test_client()
ddb = boto3.client("dynamodb")


def sent(to):
    data = requests.get(f"{url}/moto-api/data.json", timeout=10).json()
    return [m for m in data["ses"]["Message"] if to in m["destinations"]["ToAddresses"]]


out = {}
# 1 host header
c.post(
    "/api/v1/email/validate",
    json={"email": "victim@example.com"},
    headers={"Host": "evil.example.net"},
)
msgs = sent("victim@example.com")
out["evil_host_mails"] = len(msgs)
out["evil_link_in_mail"] = any("evil.example.net" in m["body"] for m in msgs)
# 2 mail bomb
t = time.perf_counter()
codes = [
    c.post("/api/v1/email/validate", json={"email": "bomb@example.com"}).status_code
    for _ in range(100)
]
out["100_validates_seconds"] = round(time.perf_counter() - t, 2)
out["100_validates_mails_sent"] = len(sent("bomb@example.com"))
out["100_validates_statuses"] = {s: codes.count(s) for s in set(codes)}
# 3 variants
app2 = create_app(settings, remover=remover)
c2 = app2.test_client()
for v in ["Var@example.com", "VAR@example.com", "var@EXAMPLE.com", "var+1@example.com"]:
    c2.post("/api/v1/email/validate", json={"email": v}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
items = ddb.scan(TableName="m-emails")["Items"]
out["variant_records"] = sorted(
    i["email"]["S"] for i in items if i["email"]["S"].lower().startswith("var")
)
out["token_in_clear"] = any("token" in i for i in items)
# 4 token guessing
t = time.perf_counter()
g = [
    c2.get(
        f"/api/v1/email/confirm?token={i:043d}", environ_base={"REMOTE_ADDR": "10.7.7.7"}
    ).status_code
    for i in range(200)
]
out["200_guesses_seconds"] = round(time.perf_counter() - t, 2)
out["200_guesses_statuses"] = {s: g.count(s) for s in set(g)}
# 5 verified reset
c3 = create_app(settings, remover=remover).test_client()
c3.post("/api/v1/email/validate", json={"email": "ver@example.com"})
tok = re.search(r"token=([A-Za-z0-9_-]+)", sent("ver@example.com")[-1]["body"]).group(1)
c3.get(f"/api/v1/email/confirm?token={tok}")
ddb.update_item(
    TableName="m-emails",
    Key={"email": {"S": "ver@example.com"}},
    UpdateExpression="SET last_sent_at = :z",
    ExpressionAttributeValues={":z": {"N": "0"}},
)
r = c3.post("/api/v1/email/validate", json={"email": "ver@example.com"})
rec = ddb.get_item(TableName="m-emails", Key={"email": {"S": "ver@example.com"}})["Item"]
out["verified_again"] = {
    "status": r.status_code,
    "record_status": rec["status"]["S"],
    "mails": len(sent("ver@example.com")),
}
# 6 long input echo
r = c3.post("/api/v1/email/validate", json={"email": "a" * 10000 + "@x"})
out["10k_address_error_length"] = len(r.get_data())
# 7 analytics failure keeps photo?
bad = create_app(load_settings({**ENV, "ANALYTICS_TABLE": "nope"}), remover=remover).test_client()
portrait = (
    ROOT
    / "test_images"
    / json.loads((ROOT / "test_images/manifest.json").read_text())["images"][0]["file"]
).read_bytes()
before = len(boto3.client("s3").list_objects_v2(Bucket="m-media").get("Contents", []))
r = bad.post(
    "/api/v1/photos",
    data={"image": (io.BytesIO(portrait), "p.jpg"), "format": "us"},
    content_type="multipart/form-data",
)
after = len(boto3.client("s3").list_objects_v2(Bucket="m-media").get("Contents", []))
out["analytics_failure"] = {
    "status": r.status_code,
    "photos_left_in_s3": after - before,
    "message": r.get_json()["error"]["message"],
}
# 8 MPO
im = Image.open(io.BytesIO(portrait)).convert("RGB")
b = io.BytesIO()
im.save(b, format="MPO", save_all=True, append_images=[Image.new("RGB", im.size)])
r = (
    create_app(settings, remover=remover)
    .test_client()
    .post(
        "/api/v1/photos",
        data={"image": (io.BytesIO(b.getvalue()), "p.jpg")},
        content_type="multipart/form-data",
    )
)
out["mpo_status"] = r.status_code
# 9 analytics TTL
out["analytics_items_with_ttl"] = sum(
    "expires_at" in i for i in ddb.scan(TableName="m-analytics")["Items"]
)
# 10 gunicorn + sandbox front proxy: head limits
tmp = Path(tempfile.mkdtemp(prefix="bench-abuse-"))
bundle = build_bundle(out_dir=tmp / "out")
cur = tmp / "cur"
zipfile.ZipFile(bundle.path).extractall(cur)
aport, fport = free_port(), free_port()
(tmp / "target").write_text(str(aport))
with serve_bundle(cur, {**ENV, "WEB_CONCURRENCY": "1"}, aport, tmp / "g.log"):
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.proxy",
            "--port",
            str(fport),
            "--target-file",
            str(tmp / "target"),
        ]
    )
    time.sleep(1.5)

    def raw(req):
        # One request per connection: without `Connection: close` a keep-alive answer would
        # leave recv() waiting for the 10 s timeout after every request.
        line, rest = req.split(b"\r\n", 1)
        s = socket.create_connection(("127.0.0.1", fport))
        s.sendall(line + b"\r\nConnection: close\r\n" + rest)
        data = b""
        s.settimeout(10)
        try:
            while chunk := s.recv(65536):
                data += chunk
        except Exception:
            pass
        s.close()
        head = data.split(b"\r\n")[0].decode()
        ctype = re.search(rb"(?i)content-type: ([^\r]+)", data)
        return f"{head} [{ctype.group(1).decode() if ctype else '-'}]"

    out["5000_char_url"] = raw(
        b"GET /health?" + b"a" * 5000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    out["9000_char_url"] = raw(
        b"GET /health?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    out["9000_byte_header"] = raw(
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
    )
    out["150_headers"] = raw(
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
        + b"\r\n"
    )
    # forged XFF: 20 validates, new address each, forged chain each
    codes = []
    for i in range(20):
        body = json.dumps({"email": f"f{i}@example.com"}).encode()
        resp = raw(
            b"POST /api/v1/email/validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nX-Forwarded-For: 203.0.113.%d\r\n"
            b"Content-Length: %d\r\n\r\n" % (i, len(body)) + body
        )
        codes.append(resp.split()[1])
    out["20_forged_xff_validates"] = {s: codes.count(s) for s in set(codes)}
    proxy.terminate()
    proxy.wait()
server.stop()
print(json.dumps(out, indent=1))
