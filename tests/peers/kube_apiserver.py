"""A loopback Kubernetes API server stand-in that authenticates EKS bearer tokens the way
aws-iam-authenticator's server does: decode `k8s-aws-v1.<base64url(presigned URL)>`, check
that it is a presigned STS GetCallerIdentity with `x-k8s-aws-id` signed, then send it to STS
with this cluster's id in that header. Only a token whose SigV4 signature STS (here
ssobar-fake-aws) accepts for this cluster gets in.

Usage: kube_apiserver.py --cluster-id NAME --sts-endpoint URL --cert PEM --key PEM --log FILE
Prints its https://127.0.0.1:PORT URL on the first line of stdout, then serves until killed.
"""

import argparse
import base64
import json
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "k8s-aws-v1."
LOG_LOCK = threading.Lock()


def verify(authorization, cluster_id, sts_endpoint):
    """(True, caller ARN) or (False, why)."""
    if not authorization.startswith("Bearer " + PREFIX):
        return False, "not an EKS token"
    encoded = authorization[len("Bearer " + PREFIX):]
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError:
        return False, "not base64url"
    parsed = urllib.parse.urlsplit(url)
    expected = urllib.parse.urlsplit(sts_endpoint)
    if (parsed.scheme, parsed.netloc) != (expected.scheme, expected.netloc):
        return False, f"not an STS endpoint: {parsed.netloc}"
    query = urllib.parse.parse_qs(parsed.query)
    if query.get("Action") != ["GetCallerIdentity"]:
        return False, "not GetCallerIdentity"
    signed = query.get("X-Amz-SignedHeaders", [""])[0].split(";")
    if "x-k8s-aws-id" not in signed:
        return False, "x-k8s-aws-id is not signed"
    try:
        request = urllib.request.Request(url, headers={"x-k8s-aws-id": cluster_id})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read().decode()
    except urllib.error.HTTPError as e:
        return False, f"STS said {e.code}"
    except (ValueError, OSError) as e:
        return False, f"unusable URL: {e}"
    start, end = body.find("<Arn>"), body.find("</Arn>")
    return True, body[start + 5:end]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cluster-id", required=True)
    parser.add_argument("--sts-endpoint", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            ok, detail = verify(self.headers.get("Authorization", ""), args.cluster_id, args.sts_endpoint)
            with LOG_LOCK, open(args.log, "a") as log:
                log.write(json.dumps({"path": self.path, "ok": ok, "detail": detail}) + "\n")
            if not ok:
                self.answer(401, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure", "message": "Unauthorized",
                                  "reason": "Unauthorized", "code": 401})
            elif self.path == "/version":
                self.answer(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-eks-stand-in",
                                  "platform": "linux/amd64", "caller": detail})
            else:
                self.answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                  "reason": "NotFound", "code": 404})

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"https://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
