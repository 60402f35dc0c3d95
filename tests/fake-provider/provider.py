#!/usr/bin/env python3
"""A fake AI provider for jackin's real-client tests (SPEC §10). Python 3 stdlib only.

    python3 provider.py --port PORT --log FILE [--cert PEM --key PEM] [--ready FILE]
                        [--spent-refresh-token TOKEN]...

It runs inside the agent's container (its own network namespace, 127.0.0.1) and is the
agent's HTTPS proxy (HTTPS_PROXY=http://127.0.0.1:PORT): it accepts CONNECT, terminates TLS
with the test images' leaf certificate (scripts/real-clients-image.sh bakes a throwaway CA
at /etc/jackin-test/ca.pem and a leaf for every provider host), reads the HTTP/1.1 requests
inside and answers them like the provider would:

- Anthropic Messages (`POST /v1/messages`, streaming SSE or JSON): a short text answer;
  `/v1/messages/count_tokens`: a count.
- OpenAI Responses (`POST .../responses`, as codex uses it; api.openai.com/v1 or
  chatgpt.com/backend-api/codex): a streamed answer.
- OAuth refresh (`POST .../v1/oauth/token` for claude, `POST auth.openai.com/oauth/token`
  for codex): each refresh token is accepted ONCE, as the real providers do; a reuse gets
  the provider's "refresh token was already used" error (so does a token given with
  --spent-refresh-token: one another holder already used).
- claude's connectivity check (`GET /api/hello`, `/v1/oauth/hello`): 200.
- A WebSocket upgrade (codex tries the Responses API over one first): 426, so the client
  uses HTTPS.
- Anything else: 404, recorded.

Every request is appended to the log as one JSON object per line: `method`, `host`, `path`,
`headers` (names lower-cased; values as sent: the tests look for credentials there), `body`
(parsed JSON when it is JSON, else text), `status` (what was answered). A CONNECT to a host
is recorded as `{"method": "CONNECT", "host": ...}`. When --ready is given, that file is
written once the port listens.
"""

import argparse
import base64
import gzip
import json
import os
import socket
import ssl
import sys
import threading
import time
import zlib

REPLY = "Hello from the fake provider."

LOCK = threading.Lock()
USED_REFRESH_TOKENS = set()
REFRESH_COUNT = [0]
ARGS = None


def record(entry):
    line = json.dumps(entry, sort_keys=True) + "\n"
    with LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()


class Conn:
    """Buffered reads from a socket (plain or TLS)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise EOFError
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def read_request(conn):
    """One HTTP/1.1 request: (method, target, headers (lower-case names), body bytes)."""
    first = conn.line()
    while first == "":
        first = conn.line()
    method, target, _version = first.split(" ", 2)
    headers = {}
    while True:
        line = conn.line()
        if line == "":
            break
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = headers[name] + ", " + value if name in headers else value
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(conn.line().split(";")[0], 16)
            if size == 0:
                while conn.line() != "":
                    pass
                break
            body += conn.exact(size)
            conn.line()
    elif "content-length" in headers:
        body = conn.exact(int(headers["content-length"]))
    return method, target, headers, body


def decode_body(headers, body):
    enc = headers.get("content-encoding", "").lower()
    try:
        if enc == "gzip":
            body = gzip.decompress(body)
        elif enc == "deflate":
            body = zlib.decompress(body)
        elif enc not in ("", "identity"):
            return {"undecoded": enc, "base64": base64.b64encode(body).decode()}
    except Exception as e:  # a body the provider cannot read is still recorded
        return {"undecodable": str(e), "base64": base64.b64encode(body).decode()}
    text = body.decode("utf-8", "replace")
    if "json" in headers.get("content-type", "") or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def respond(sock, status, body, content_type="application/json", extra=()):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
              426: "Upgrade Required"}.get(status, "")
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}", "Connection: keep-alive", *extra]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def sse(events):
    out = []
    for name, data in events:
        out.append(f"event: {name}\ndata: {json.dumps(data)}\n\n")
    return "".join(out)


def fake_jwt(claims):
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.c2ln"


def anthropic_messages(body):
    model = body.get("model", "claude-sonnet-4-5") if isinstance(body, dict) else "claude"
    usage = {"input_tokens": 10, "output_tokens": 7, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 0}
    msg_id = f"msg_fake{int(time.time() * 1000)}"
    if isinstance(body, dict) and body.get("stream"):
        events = [
            ("message_start", {"type": "message_start", "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": REPLY}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": 7}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        return 200, sse(events), "text/event-stream"
    return 200, {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                 "content": [{"type": "text", "text": REPLY}], "stop_reason": "end_turn",
                 "stop_sequence": None, "usage": usage}, "application/json"


def openai_responses(body):
    rid = f"resp_fake{int(time.time() * 1000)}"
    item = {"type": "message", "id": f"msg_{rid}", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": REPLY, "annotations": []}]}
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": 17}
    events = [
        ("response.created", {"type": "response.created",
                              "response": {"id": rid, "status": "in_progress"}}),
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                        "item": {**item, "status": "in_progress", "content": []}}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "item_id": item["id"],
                                        "output_index": 0, "content_index": 0, "delta": REPLY}),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0,
                                       "item": item}),
        ("response.completed", {"type": "response.completed",
                                "response": {"id": rid, "status": "completed", "usage": usage,
                                             "output": [item]}}),
    ]
    return 200, sse(events), "text/event-stream"


def openai_chat(body):
    """OpenAI chat completions, as kimi-cli's `kimi` provider type calls them."""
    model = body.get("model", "") if isinstance(body, dict) else ""
    cid = f"chatcmpl-fake{int(time.time() * 1000)}"
    usage = {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17}
    if isinstance(body, dict) and body.get("stream"):
        chunks = [
            {"id": cid, "object": "chat.completion.chunk", "created": 0, "model": model,
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": REPLY},
                          "finish_reason": None}]},
            {"id": cid, "object": "chat.completion.chunk", "created": 0, "model": model,
             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage},
        ]
        text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return 200, text, "text/event-stream"
    return 200, {"id": cid, "object": "chat.completion", "created": 0, "model": model,
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                              "finish_reason": "stop"}], "usage": usage}, "application/json"


def refresh_token_of(body):
    if isinstance(body, dict):
        return body.get("refresh_token")
    if isinstance(body, str) and "refresh_token=" in body:  # form-encoded
        from urllib.parse import parse_qs

        return (parse_qs(body).get("refresh_token") or [None])[0]
    return None


def oauth_refresh(host, body):
    token = refresh_token_of(body)
    with LOCK:
        reused = token is None or token in USED_REFRESH_TOKENS
        if not reused:
            USED_REFRESH_TOKENS.add(token)
            REFRESH_COUNT[0] += 1
        n = REFRESH_COUNT[0]
    openai = host.endswith("openai.com")
    if reused:
        if openai:  # codex reads error.code (codex-rs login refresh tests use this shape)
            return 401, {"error": {"code": "refresh_token_reused",
                                   "message": "Your refresh token has already been used to generate a new access token. Please try signing in again."}}
        # RFC 6749 §5.2 shape, as Anthropic's token endpoint answers
        return 400, {"error": "invalid_grant",
                     "error_description": "Refresh token was already used"}
    if openai:
        exp = int(time.time()) + 3600 * 24 * 10
        auth = {"chatgpt_plan_type": "pro", "chatgpt_account_id": "acct-fake",
                "chatgpt_user_id": "user-fake"}
        return 200, {
            "id_token": fake_jwt({"email": "agent@example.invalid", "exp": exp,
                                  "https://api.openai.com/auth": auth}),
            "access_token": fake_jwt({"exp": exp, "n": n, "fake": f"fake-refreshed-access-{n}",
                                      "https://api.openai.com/auth": auth}),
            "refresh_token": f"fake-refreshed-refresh-{n}",
        }
    return 200, {
        "token_type": "Bearer",
        "access_token": f"sk-ant-oat01-fake-refreshed-access-{n}",
        "refresh_token": f"sk-ant-ort01-fake-refreshed-refresh-{n}",
        "expires_in": 28800,
        "scope": "user:inference user:profile user:sessions:claude_code",
    }


def route(method, host, path, body, headers=None):
    p = path.split("?", 1)[0]
    if method == "GET" and (headers or {}).get("upgrade", "").lower() == "websocket":
        # codex tries the Responses API over a WebSocket first; 426 makes it use HTTPS
        return 426, {"error": {"message": "fake provider: no WebSocket, use HTTPS"}}, "application/json"
    if method == "POST" and p.endswith("/oauth/token"):
        return (*oauth_refresh(host, body)[:2], "application/json")
    if method == "GET" and p in ("/api/hello", "/v1/oauth/hello"):  # claude's connectivity check
        return 200, {"message": "hello"}, "application/json"
    if method == "GET" and p == "/backend-api/wham/accounts/check":  # codex's workspace routing
        acct = (headers or {}).get("chatgpt-account-id", "acct-fake")
        account = {"id": acct, "structure": "personal", "plan_type": "pro",
                   "workspace_backend_origin": "https://chatgpt.com",
                   "account_routing_override": "NO_CONSTRAINT"}
        return 200, {"accounts": [account], "account_ordering": [acct]}, "application/json"
    if method == "POST" and p == "/v1/messages/count_tokens":
        return 200, {"input_tokens": 10}, "application/json"
    if method == "POST" and p == "/v1/messages":
        return anthropic_messages(body)
    if method == "POST" and p.endswith("/responses"):
        return openai_responses(body)
    if method == "POST" and p.endswith("/chat/completions"):
        return openai_chat(body)
    return 404, {"error": {"type": "not_found_error", "message": f"fake provider: no {method} {p}"}}, "application/json"


def serve_requests(sock, host):
    conn = Conn(sock)
    while True:
        try:
            method, target, headers, raw = read_request(conn)
        except (EOFError, OSError, ValueError, ssl.SSLError):
            return
        path = target
        if target.startswith(("http://", "https://")):  # absolute form (plain proxying)
            rest = target.split("://", 1)[1]
            host, _, path = rest.partition("/")
            path = "/" + path
        body = decode_body(headers, raw)
        status, answer, ctype = route(method, host.split(":")[0], path, body, headers)
        record({"method": method, "host": host, "path": path, "headers": headers,
                "body": body, "status": status, "time": time.time()})
        try:
            respond(sock, status, answer, ctype)
        except OSError:
            return


def handle(client, tls):
    try:
        conn = Conn(client)
        method, target, headers, _ = read_request(conn)
        if method != "CONNECT":
            # a plain-HTTP proxy request: answer it on this connection
            conn.buf = b""
            host = headers.get("host", "")
            path = target
            if target.startswith("http://"):
                host, _, path = target[len("http://"):].partition("/")
                path = "/" + path
            status, answer, ctype = route(method, host.split(":")[0], path, None)
            record({"method": method, "host": host, "path": path, "headers": headers,
                    "body": None, "status": status, "time": time.time()})
            respond(client, status, answer, ctype)
            return
        host = target.rsplit(":", 1)[0]
        record({"method": "CONNECT", "host": host, "time": time.time()})
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            inner = tls.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError) as e:
            record({"method": "TLS-FAILED", "host": host, "error": str(e), "time": time.time()})
            return
        serve_requests(inner, host)
    except (EOFError, OSError, ValueError):
        pass
    finally:
        try:
            client.close()
        except OSError:
            pass


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert", default="/etc/jackin-test/leaf.pem")
    ap.add_argument("--key", default="/etc/jackin-test/leaf.key")
    ap.add_argument("--ready")
    ap.add_argument("--spent-refresh-token", action="append", default=[],
                    help="a refresh token another holder already used (repeatable)")
    ARGS = ap.parse_args()
    USED_REFRESH_TOKENS.update(ARGS.spent_refresh_token)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(ARGS.cert, ARGS.key)
    tls.set_alpn_protocols(["http/1.1"])  # the clients fall back from h2 to HTTP/1.1
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", ARGS.port))
    srv.listen(64)
    open(ARGS.log, "a").close()
    if ARGS.ready:
        with open(ARGS.ready + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(ARGS.ready + ".tmp", ARGS.ready)
    while True:
        client, _ = srv.accept()
        threading.Thread(target=handle, args=(client, tls), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
