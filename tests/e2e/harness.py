# SPDX-License-Identifier: MIT
"""Helpers for chatd's end-to-end tests.

The tests start the real chatd binary (CHATD_BIN, default ../../build/chatd relative to this
file) on 127.0.0.1 with port 0 and a fresh temporary data dir, and talk to it like real clients:

  Server          starts chatd, parses the URL from its first stdout line, waits for /healthz,
                  captures stderr to a file and always stops the process (SIGTERM, then SIGKILL).
  http_call       one HTTP request (urllib, no proxies) -> Response(status, headers, body).
  Ws              a client on the `websockets` package: splits every frame on "\\n", waits for
                  an object of a given type or answering a given id, reports the close code.
  RawWs           a stdlib WebSocket client on a plain socket for protocol violations: builds
                  frames with any opcode/RSV/mask/length, fragments, reads frames and close codes.
  ChatdTestCase / AsyncChatdTestCase
                  unittest bases that stop every server they started and print its log when a
                  test fails.

Every wait is bounded. Timeouts can be stretched for slow builds (sanitizers) with
CHATD_E2E_TIMEOUT_SCALE (a factor, default 1).
"""
import asyncio
import base64
import collections
import hashlib
import hmac
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE = float(os.environ.get("CHATD_E2E_TIMEOUT_SCALE", "1") or "1")


def timeout(seconds):
    """A wait bound, stretched by CHATD_E2E_TIMEOUT_SCALE."""
    return seconds * SCALE


# Default bounds: answers from a healthy server on loopback come in milliseconds; these are
# generous so that a sanitizer build on a busy machine still passes.
T_ANSWER = timeout(10)
T_START = timeout(30)
T_STOP = 5  # SIGTERM -> exit; the contract, not stretched

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def chatd_bin():
    path = os.environ.get("CHATD_BIN") or os.path.join(HERE, "..", "..", "build", "chatd")
    return os.path.abspath(path)


def clean_env(extra=None):
    """The environment for chatd: ours without any CHATD_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env.update(extra or {})
    return env


_names = itertools.count(1)


def unique_name(prefix="u"):
    """A fresh valid user name (1-32 of [A-Za-z0-9._-])."""
    return "%s%d_%s" % (prefix, next(_names), os.urandom(3).hex())


# --------------------------------------------------------------------------------------------
# chatd commands (no server)
# --------------------------------------------------------------------------------------------

def run_chatd(args, input=None, env=None, wait=None):
    """Runs `chatd ARGS` to completion (bounded) and returns the CompletedProcess (text)."""
    return subprocess.run([chatd_bin()] + list(args), input=input if input is not None else "",
                          capture_output=True, text=True, env=clean_env(env),
                          timeout=wait or timeout(60))


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # an email.message.Message: case-insensitive .get()
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_call(method, url, body=None, headers=None, wait=None):
    """One HTTP request. `body` may be a dict/list (sent as JSON), str or bytes."""
    hdrs = dict(headers or {})
    data = None
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    elif body is not None:
        data = body
    if method == "POST" and data is None:
        data = b""
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _opener.open(req, timeout=wait or T_ANSWER) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        try:
            return Response(e.code, e.headers, e.read())
        finally:
            e.close()


def cookie_from(response, name="chatd_session"):
    """The value of cookie `name` from a response's Set-Cookie headers (None if absent)."""
    for value in response.headers.get_all("Set-Cookie") or []:
        first = value.split(";", 1)[0].strip()
        if first.startswith(name + "="):
            return first[len(name) + 1:]
    return None


def make_jwt(claims, secret, header=None):
    """An HS256 JWT over `claims` (a dict) signed with `secret`."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = header or {"alg": "HS256", "typ": "JWT"}
    signing_input = b64(json.dumps(head).encode()) + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(sig)


# --------------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------------

class ServerStartError(Exception):
    pass


class Server:
    """One chatd process on 127.0.0.1:<free port> with its own data dir.

    Use as a context manager, or call start() and close(). close() always stops the process
    and removes its files; the stderr log stays readable through log()."""

    URL_RE = re.compile(r"serving on (http://\S+/)")

    def __init__(self, *args, env=None, data_dir=None, listen="127.0.0.1:0"):
        self.args = [str(a) for a in args]
        self.env = env
        self.listen = listen
        self.own_data_dir = data_dir is None
        self.data_dir = data_dir
        self.proc = None
        self.url = None
        self.first_line = None
        self.returncode = None
        self.killed = False
        self.stopped_by_close = False  # close() sent the SIGTERM (the test had not stopped it)
        self._log_path = None
        self._log_text = None
        self._stdout_rest = []
        self._drain = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, wait_healthy=True):
        if self.data_dir is None:
            self.data_dir = tempfile.mkdtemp(prefix="chatd-e2e-data-")
        fd, self._log_path = tempfile.mkstemp(prefix="chatd-e2e-", suffix=".log")
        cmd = [chatd_bin(), "--listen", self.listen, "--data-dir", self.data_dir] + self.args
        with os.fdopen(fd, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, env=clean_env(self.env))
        try:
            self.first_line = self._read_first_line(T_START)
            m = self.URL_RE.search(self.first_line)
            if not m:
                raise ServerStartError("unexpected first line from chatd: %r" % self.first_line)
            self.url = m.group(1)
            self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
            self._drain.start()
            if wait_healthy:
                self._wait_healthy(T_START)
        except BaseException:
            self.close()  # the error carries the log; remove the files now
            raise
        return self

    def _read_first_line(self, limit):
        deadline = time.monotonic() + limit
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerStartError("chatd printed no URL within %.0f s; stderr:\n%s" % (limit, self.log()))
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                self.proc.wait(timeout=T_STOP)
                raise ServerStartError("chatd exited with %s before serving; stderr:\n%s"
                                       % (self.proc.returncode, self.log()))
            buf += chunk
        line, rest = buf.split(b"\n", 1)
        if rest:
            self._stdout_rest.append(rest)
        return line.decode("utf-8", "replace")

    def _drain_stdout(self):
        try:
            while True:
                chunk = self.proc.stdout.read1(4096) if hasattr(self.proc.stdout, "read1") else \
                    self.proc.stdout.read(4096)
                if not chunk:
                    return
                self._stdout_rest.append(chunk)
        except (OSError, ValueError):
            return

    def _wait_healthy(self, limit):
        deadline = time.monotonic() + limit
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError("chatd exited with %s; stderr:\n%s" % (self.proc.returncode, self.log()))
            try:
                r = http_call("GET", self.url + "healthz", wait=timeout(5))
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise ServerStartError("/healthz did not answer 200 within %.0f s (last: %r)" % (limit, last))

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, limit):
        """Waits up to `limit` seconds for the process to exit; returns its code or None."""
        try:
            return self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            return None

    async def wait_exit_async(self, limit):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return rc
            await asyncio.sleep(0.02)
        return self.proc.poll()

    def stop(self, sig=signal.SIGTERM, limit=T_STOP):
        """Stops the process (sig, then SIGKILL after `limit` s); returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait(timeout=T_STOP)
        self.returncode = self.proc.returncode
        if self._drain is not None:
            self._drain.join(timeout=T_STOP)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.returncode

    def close(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.stopped_by_close = True
            self.stop()
        finally:
            if self._log_path:
                self._log_text = self._read_log()
                try:
                    os.unlink(self._log_path)
                except OSError:
                    pass
                self._log_path = None
            if self.own_data_dir and self.data_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.close()
        if exc_type is not None and not issubclass(exc_type, ServerStartError):
            print_log(self)
        return False

    # -- output ----------------------------------------------------------------------------
    def _read_log(self):
        try:
            with open(self._log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def problems(self):
        """What went wrong with the process itself: a sanitizer report in its log, or (when
        close() stopped it) an exit other than 0 after SIGTERM."""
        out = []
        text = self.log()
        for marker in ("Sanitizer", "runtime error:", "Assertion `", "terminate called"):
            if marker in text:
                out.append("chatd's stderr contains %r" % marker)
        if self.stopped_by_close:
            if self.killed:
                out.append("chatd did not exit within %d s of SIGTERM (killed)" % T_STOP)
            elif self.returncode != 0:
                out.append("chatd exited with %s after SIGTERM" % self.returncode)
        return out

    def log(self):
        """What chatd wrote to stderr so far."""
        if self._log_path:
            return self._read_log()
        return self._log_text or ""

    def stdout_rest(self):
        return b"".join(self._stdout_rest).decode("utf-8", "replace")

    # -- addresses -------------------------------------------------------------------------
    @property
    def host(self):
        return re.match(r"http://([^/:]+|\[[^\]]+\]):(\d+)/", self.url).group(1)

    @property
    def port(self):
        return int(re.match(r"http://([^/:]+|\[[^\]]+\]):(\d+)/", self.url).group(2))

    @property
    def origin(self):
        return self.url.rstrip("/")

    @property
    def ws_url(self):
        return "ws://%s:%d/ws" % (self.host, self.port)

    # -- HTTP shortcuts --------------------------------------------------------------------
    def get(self, path, headers=None):
        return http_call("GET", self.url + path.lstrip("/"), headers=headers)

    def post(self, path, body=None, headers=None):
        return http_call("POST", self.url + path.lstrip("/"), body=body, headers=headers)

    def register(self, user, password):
        return self.post("/api/register", {"user": user, "password": password})

    def login(self, user, password):
        return self.post("/api/login", {"user": user, "password": password})

    def new_user(self, prefix="u", password=None):
        """Registers and logs in a fresh user; returns an Account."""
        name = unique_name(prefix)
        password = password or "pw-" + os.urandom(6).hex()
        r = self.register(name, password)
        if r.status != 201:
            raise AssertionError("register %s: %r" % (name, r))
        r = self.login(name, password)
        if r.status != 200:
            raise AssertionError("login %s: %r" % (name, r))
        body = r.json()
        return Account(name, password, body["token"], cookie_from(r))


class Account:
    def __init__(self, user, password, token, cookie):
        self.user = user
        self.password = password
        self.token = token
        self.cookie = cookie

    def __repr__(self):
        return "<Account %s>" % self.user


def print_log(server, limit=20000):
    text = server.log()
    if len(text) > limit:
        text = "[...]\n" + text[-limit:]
    sys.stderr.write("\n----- chatd stderr (%s) -----\n%s\n----- end of chatd stderr -----\n"
                     % (" ".join(server.args) or "no extra args", text))
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# WebSocket client on the `websockets` package
# --------------------------------------------------------------------------------------------

class Closed(Exception):
    """The connection closed while we waited; .code is the close code (1006 = no close frame)."""

    def __init__(self, code, reason, seen):
        super().__init__("connection closed with %s %r; received before: %s" % (code, reason, seen[-10:]))
        self.code = code
        self.reason = reason
        self.seen = seen


class Ws:
    """A WebSocket client that speaks chatd's JSON lines."""

    _ids = itertools.count(1)

    def __init__(self, conn):
        self.conn = conn
        self.pending = collections.deque()  # objects received, not yet handed out
        self.seen = []                      # every object received, in order
        self.lines = []                     # the raw text of each object in .seen (same index)
        self.frames = 0

    @classmethod
    async def connect(cls, url, origin=None, headers=None, cookie=None, wait=None, source=None):
        """`source`: the local address to connect from (another 127.0.0.x, to be another client)."""
        extra = dict(headers or {})
        if cookie is not None:
            extra["Cookie"] = "chatd_session=" + cookie
        more = {"local_addr": (source, 0)} if source else {}
        conn = await asyncio.wait_for(
            websockets.connect(url, origin=origin, extra_headers=extra, open_timeout=None,
                               ping_interval=None, close_timeout=T_STOP, max_size=2 ** 24, **more),
            wait or T_ANSWER)
        return cls(conn)

    # -- sending ---------------------------------------------------------------------------
    async def send(self, message):
        """Sends a dict (as JSON), a str (as is) or bytes (a binary frame)."""
        if isinstance(message, dict):
            message = json.dumps(message)
        await asyncio.wait_for(self.conn.send(message), T_ANSWER)

    # -- receiving -------------------------------------------------------------------------
    async def _fill(self, wait):
        try:
            frame = await asyncio.wait_for(self.conn.recv(), wait)
        except websockets.ConnectionClosed:
            await asyncio.wait_for(self.conn.wait_closed(), T_STOP)
            raise Closed(self.conn.close_code, self.conn.close_reason, self.seen) from None
        self.frames += 1
        if isinstance(frame, bytes):
            raise AssertionError("chatd sent a binary frame: %r" % frame[:100])
        for line in frame.split("\n"):
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
                raise AssertionError("not an object with a type: %r" % line[:300])
            self.pending.append(obj)
            self.seen.append(obj)
            self.lines.append(line)

    async def recv(self, wait=None):
        """The next object (frames are split on newlines)."""
        deadline = time.monotonic() + (wait or T_ANSWER)
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise asyncio.TimeoutError()
            await self._fill(left)
        return self.pending.popleft()

    async def wait_for(self, type=None, re=None, pred=None, wait=None):
        """The first object of `type` (and answering `re`, and passing `pred`); objects before it
        are skipped (still in .seen). Fails after `wait` seconds."""
        wait = wait or T_ANSWER
        deadline = time.monotonic() + wait
        skipped = []
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise asyncio.TimeoutError()
                obj = await self.recv(left)
            except asyncio.TimeoutError:
                raise AssertionError("no %s (re=%r) within %.1f s; got meanwhile: %s"
                                     % (type or "object", re, wait, skipped[-10:])) from None
            if type is not None and obj.get("type") != type:
                skipped.append(obj)
                continue
            if re is not None and obj.get("re") != re:
                skipped.append(obj)
                continue
            if pred is not None and not pred(obj):
                skipped.append(obj)
                continue
            return obj

    async def wait_seen(self, type=None, pred=None, wait=None):
        """Like wait_for, but an object received earlier (even one another wait skipped) counts."""
        for obj in self.seen:
            if (type is None or obj.get("type") == type) and (pred is None or pred(obj)):
                return obj
        return await self.wait_for(type, pred=pred, wait=wait)

    async def request(self, obj, wait=None):
        """Sends `obj` with a fresh id (unless it has one) and returns the answer carrying that
        id in `re` (an ok, an error, or a welcome)."""
        obj = dict(obj)
        obj.setdefault("id", next(self._ids))
        await self.send(obj)
        return await self.wait_for(re=obj["id"], wait=wait)

    async def hello(self, **fields):
        """Sends a hello and returns its answer (welcome or error)."""
        return await self.request(dict({"type": "hello"}, **fields))

    async def login(self, **fields):
        """hello that must succeed: returns the welcome, after `live` arrived."""
        answer = await self.hello(**fields)
        if answer.get("type") != "welcome":
            raise AssertionError("hello %r was answered %r" % (fields, answer))
        await self.wait_for("live")
        return answer

    async def catch_up(self, **fields):
        """hello that must succeed; returns (welcome, messages, live): `messages` are the
        message and notification objects that came between the welcome and `live`, in order."""
        start = len(self.seen)
        welcome = await self.login(**fields)
        got = self.seen[start:]
        i = next(n for n, o in enumerate(got) if o is welcome)
        j = next(n for n in range(i + 1, len(got)) if got[n].get("type") == "live")
        messages = [o for o in got[i + 1:j] if o.get("type") in ("message", "notification")]
        return welcome, messages, got[j]

    def raw(self, obj):
        """The text of the line that `obj` (an object received on this connection) came in."""
        for n, o in enumerate(self.seen):
            if o is obj:
                return self.lines[n]
        raise KeyError("not received on this connection")

    async def closed(self, wait=None):
        """Waits for the server to close; returns (code, objects received meanwhile)."""
        wait = wait or T_ANSWER
        deadline = time.monotonic() + wait
        got = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("still open after %.1f s; received %s" % (wait, got[-10:]))
            try:
                got.append(await self.recv(left))
            except Closed as e:
                return e.code, got
            except asyncio.TimeoutError:
                continue

    async def close(self):
        try:
            await asyncio.wait_for(self.conn.close(), T_STOP + 1)
        except (asyncio.TimeoutError, OSError, websockets.WebSocketException):
            pass

    @property
    def open(self):
        return self.conn.open


# --------------------------------------------------------------------------------------------
# Raw WebSocket client for protocol violations
# --------------------------------------------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeError(Exception):
    def __init__(self, status, head):
        super().__init__("handshake answered %s: %r" % (status, head[:300]))
        self.status = status
        self.head = head


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None, length=None):
    """One WebSocket frame. `length` overrides the declared payload length (the payload bytes
    are still the ones given); `mask=False` sends it unmasked; `rsv` sets the RSV1-3 bits."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload) if length is None else length
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = mask_key if mask_key is not None else os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Frame:
    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    @property
    def close_code(self):
        """The code of a close frame; 1005 ("no status") when it has no payload."""
        if not self.payload:
            return 1005
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def __repr__(self):
        return "<Frame op=%d fin=%s len=%d %r>" % (self.opcode, self.fin, len(self.payload), self.payload[:80])


class RawWs:
    """A WebSocket client on a plain socket. connect() does the handshake; everything else is
    frames, built by hand."""

    def __init__(self, host, port, path="/ws", headers=None, wait=None, source=None):
        self.host, self.port, self.path = host, port, path
        self.source = source  # local address to connect from (another loopback address)
        self.headers = headers or {}
        self.wait = wait or T_ANSWER
        self.sock = None
        self.buf = b""
        self.response_head = None

    @classmethod
    def for_server(cls, server, **kw):
        return cls(server.host, server.port, **kw)

    def connect(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.wait,
                                             source_address=(self.source, 0) if self.source else None)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % self.path, "Host: %s:%d" % (self.host, self.port),
                 "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + key,
                 "Sec-WebSocket-Version: 13"]
        lines += ["%s: %s" % kv for kv in self.headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed during the handshake (got %r)" % self.buf[:200])
            self.buf += chunk
            if len(self.buf) > 65536:
                raise HandshakeError(None, self.buf)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.response_head = head.decode("latin-1")
        status_line = self.response_head.split("\r\n", 1)[0]
        parts = status_line.split(" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        if status != 101:
            raise HandshakeError(status, self.response_head)
        expect = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        accept = re.search(r"(?im)^sec-websocket-accept:\s*(\S+)", self.response_head)
        if not accept or accept.group(1) != expect:
            raise HandshakeError(status, self.response_head)
        return self

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()
        return False

    # -- sending ---------------------------------------------------------------------------
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.send_raw(build_frame(opcode, payload, **kw))

    def send_text(self, text, **kw):
        if isinstance(text, dict):
            text = json.dumps(text)
        self.send_frame(OP_TEXT, text, **kw)

    def send_fragments(self, pieces, opcode=OP_TEXT):
        """One message in several frames: `pieces` (bytes or str) in order."""
        for i, piece in enumerate(pieces):
            self.send_frame(opcode if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1)

    def send_close(self, code=1000, reason=b""):
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    # -- receiving -------------------------------------------------------------------------
    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self, wait=None):
        """The next frame from the server. Raises EOFError on a closed connection and
        socket.timeout after `wait` seconds."""
        deadline = time.monotonic() + (wait or self.wait)
        b0, b1 = self._need(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8, deadline))[0]
        key = self._need(4, deadline) if b1 & 0x80 else None
        payload = self._need(n, deadline)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload)

    def recv_objects(self, wait=None):
        """The JSON objects of the next text message (server fragments are joined)."""
        deadline = time.monotonic() + (wait or self.wait)
        data = b""
        while True:
            f = self.read_frame(max(0.01, deadline - time.monotonic()))
            if f.opcode == OP_CLOSE:
                raise Closed(f.close_code, f.payload[2:], [])
            if f.opcode in (OP_PING, OP_PONG):
                continue
            data += f.payload
            if f.fin:
                return [json.loads(line) for line in data.decode("utf-8").split("\n")]

    def wait_answer(self, re, wait=None):
        """The object answering request id `re`."""
        deadline = time.monotonic() + (wait or self.wait)
        while True:
            for obj in self.recv_objects(max(0.01, deadline - time.monotonic())):
                if obj.get("re") == re:
                    return obj

    def wait_type(self, type, wait=None):
        """The first object of `type` (objects before it are dropped)."""
        deadline = time.monotonic() + (wait or self.wait)
        while True:
            for obj in self.recv_objects(max(0.01, deadline - time.monotonic())):
                if obj.get("type") == type:
                    return obj

    def login(self, token, wait=None):
        """hello by token; returns the welcome once `live` has arrived too."""
        self.send_text({"type": "hello", "id": "hello", "token": token})
        deadline = time.monotonic() + (wait or self.wait)
        welcome = None
        while True:
            for obj in self.recv_objects(max(0.01, deadline - time.monotonic())):
                if obj.get("re") == "hello":
                    if obj.get("type") != "welcome":
                        raise AssertionError("hello answered %r" % obj)
                    welcome = obj
                elif obj.get("type") == "live" and welcome is not None:
                    return welcome

    def read_close(self, wait=None):
        """Reads until the server's close frame. Returns (code, frames before it); code is
        None if the connection ended without a close frame, 1005 for an empty close frame. Raises socket.timeout if the
        server neither closes nor hangs up within `wait` seconds."""
        deadline = time.monotonic() + (wait or self.wait)
        before = []
        while True:
            try:
                f = self.read_frame(max(0.01, deadline - time.monotonic()))
            except (EOFError, ConnectionResetError):
                return None, before
            if f.opcode == OP_CLOSE:
                try:
                    self.send_close(1000)
                except OSError:
                    pass
                return f.close_code, before
            before.append(f)

    def wait_eof(self, wait=None):
        """True if the server hangs up (after a close) within `wait` seconds."""
        deadline = time.monotonic() + (wait or self.wait)
        try:
            while True:
                self.read_frame(max(0.01, deadline - time.monotonic()))
        except (EOFError, ConnectionResetError):
            return True
        except socket.timeout:
            return False


# --------------------------------------------------------------------------------------------
# unittest bases
# --------------------------------------------------------------------------------------------

def _close_and_check(srv, print_on_problem=False):
    """Cleanup for servers the tests started: stop, then fail if the process misbehaved.
    (A test's failure prints its servers' logs in _ServerOwner.run; a class cleanup is not
    part of any test, so it prints its own.)"""
    srv.close()
    problems = srv.problems()
    if problems:
        if print_on_problem:
            print_log(srv)
        raise AssertionError("; ".join(problems))


class _ServerOwner:
    """Starts servers for a test (stopped in cleanup) and prints their logs when it fails."""

    _class_servers = ()

    def start_server(self, *args, **kw):
        return self.make_server(*args, **kw).start()

    def make_server(self, *args, **kw):
        """A Server owned by the test (stopped in cleanup) that is not started yet: call its
        start(), e.g. from a thread while an event loop keeps running."""
        srv = Server(*args, **kw)
        self._servers_of_test().append(srv)
        self.addCleanup(_close_and_check, srv)
        return srv

    def temp_data_dir(self):
        """A data dir that outlives the servers of the test (for restarts); removed in cleanup."""
        d = tempfile.mkdtemp(prefix="chatd-e2e-data-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    @classmethod
    def start_class_server(cls, *args, **kw):
        """A server shared by the tests of a class (call from setUpClass)."""
        srv = Server(*args, **kw)
        if "_class_servers" not in cls.__dict__:
            cls._class_servers = []
        cls._class_servers.append(srv)
        cls.addClassCleanup(_close_and_check, srv, True)
        return srv.start()

    def _servers_of_test(self):
        if "_test_servers" not in self.__dict__:
            self._test_servers = []
        return self._test_servers

    def run(self, result=None):
        before = (len(result.failures), len(result.errors)) if result is not None else None
        out = super().run(result)
        result = result if result is not None else out
        if result is not None and before is not None and \
                (len(result.failures), len(result.errors)) != before:
            for srv in list(self._servers_of_test()) + list(type(self)._class_servers):
                print_log(srv)
        return out


class ChatdTestCase(_ServerOwner, unittest.TestCase):
    pass


class AsyncChatdTestCase(_ServerOwner, unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        # The tests make short blocking HTTP calls from the loop; that is intended, so the
        # debug loop's slow-callback warnings are noise.
        asyncio.get_running_loop().slow_callback_duration = 60

    async def connect(self, server, **kw):
        """A Ws to `server`'s /ws, closed in cleanup."""
        ws = await Ws.connect(server.ws_url, **kw)
        self.addAsyncCleanup(ws.close)
        return ws

    async def logged_in(self, server, account, device=None):
        """A Ws logged in as `account` by token."""
        ws = await self.connect(server)
        fields = {"token": account.token}
        if device:
            fields["device"] = device
        await ws.login(**fields)
        return ws

    def raw(self, server, **kw):
        """A RawWs to `server` (connected), closed in cleanup."""
        c = RawWs.for_server(server, **kw)
        self.addCleanup(c.close)
        return c.connect()


def main():
    unittest.main(verbosity=2)
