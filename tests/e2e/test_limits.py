# SPDX-License-Identifier: MIT
"""Connection policy: the auth timeout (1008), the Origin check (1008), the per-IP cap."""
import asyncio
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Upper bound for the 1-second auth timeout to fire: generous for slow builds, far below the
# ping/idle times that could otherwise close a connection.
AUTH_TIMEOUT_BOUND = harness.timeout(10)


class AuthTimeoutTest(harness.AsyncChatdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server("--auth-timeout", 1, "--ping-interval", 60, "--idle-timeout", 120)
        cls.acct = cls.srv.new_user("timely")

    async def test_silent_connection_is_closed_1008(self):
        ws = await self.connect(self.srv)
        code, got = await ws.closed(AUTH_TIMEOUT_BOUND)
        self.assertEqual(code, 1008, got)
        self.assertEqual([o for o in got if o.get("type") == "welcome"], [])

    async def test_pings_and_refused_requests_do_not_extend_it(self):
        ws = await self.connect(self.srv)
        deadline = time.monotonic() + AUTH_TIMEOUT_BOUND
        n = 0
        while time.monotonic() < deadline:
            try:
                await ws.send({"type": "ping", "id": n})
                await ws.send({"type": "who", "id": "w%d" % n})
                await asyncio.sleep(0.2)
                n += 1
            except Exception:  # the connection closed while we sent
                break
        code, got = await ws.closed(harness.T_ANSWER)
        self.assertEqual(code, 1008)
        self.assertGreater(n, 1, "closed before the client did anything")
        refused = [o for o in ws.seen if str(o.get("re", "")).startswith("w")]
        self.assertTrue(refused and all(o.get("code") == "unauthorized" for o in refused), ws.seen[-5:])

    async def test_failed_hello_does_not_extend_it(self):
        ws = await self.connect(self.srv)
        answer = await ws.hello(token="nonsense")
        self.assertEqual(answer.get("code"), "unauthorized", answer)
        code, got = await ws.closed(AUTH_TIMEOUT_BOUND)
        self.assertEqual(code, 1008, got)

    async def test_logged_in_connection_stays_open(self):
        ws = await self.logged_in(self.srv, self.acct)
        watcher = await self.connect(self.srv)  # a silent one, to know the timeout has passed
        code, _ = await watcher.closed(AUTH_TIMEOUT_BOUND)
        self.assertEqual(code, 1008)
        await asyncio.sleep(1.5)  # and then some
        answer = await ws.request({"type": "who"})
        self.assertEqual(answer.get("type"), "ok", answer)
        self.assertTrue(ws.open)


class OriginTest(harness.AsyncChatdTestCase):
    ALLOWED = "http://good.example"

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server("--allowed-origins", cls.ALLOWED)
        cls.acct = cls.srv.new_user("origin")

    async def assertRefused(self, origin):
        ws = await self.connect(self.srv, origin=origin)  # the upgrade itself completes
        try:
            await ws.send({"type": "hello", "id": 1, "token": self.acct.token})
        except harness.websockets.ConnectionClosed:
            pass
        code, got = await ws.closed()
        self.assertEqual(code, 1008, (origin, got))
        self.assertEqual([o for o in got if o.get("type") == "welcome"], [], origin)

    async def test_foreign_origin_is_closed_1008(self):
        for origin in ("http://evil.example", "null", self.ALLOWED + ".evil.example",
                       "https://good.example", "http://127.0.0.1:1"):
            with self.subTest(origin):
                await self.assertRefused(origin)

    async def test_allowed_origin_works(self):
        ws = await self.connect(self.srv, origin=self.ALLOWED)
        welcome = await ws.login(token=self.acct.token)
        self.assertEqual(welcome.get("user"), self.acct.user)
        self.assertEqual((await ws.request({"type": "who"})).get("type"), "ok")

    async def test_same_origin_works(self):
        ws = await self.connect(self.srv, origin=self.srv.origin)
        welcome = await ws.login(token=self.acct.token)
        self.assertEqual(welcome.get("user"), self.acct.user)

    async def test_allowed_origin_may_post_to_the_api(self):
        r = self.srv.post("/api/login", {"user": self.acct.user, "password": self.acct.password},
                          headers={"Origin": self.ALLOWED})
        self.assertEqual(r.status, 200, r)
        r = self.srv.post("/api/login", {"user": self.acct.user, "password": self.acct.password},
                          headers={"Origin": "http://evil.example"})
        self.assertEqual(r.status, 403, r)


class PerIpCapTest(harness.ChatdTestCase):
    CAP = 3

    def open_conn(self, srv, source=None, patience=None):
        """A connection that completes the handshake, retrying for up to `patience` seconds
        (the server learns of closed connections asynchronously). Returns it or the last error."""
        deadline = time.monotonic() + (patience or 0)
        while True:
            c = harness.RawWs.for_server(srv, source=source, wait=harness.timeout(5))
            try:
                c.connect()
                self.addCleanup(c.close)
                return c
            except (ConnectionError, harness.HandshakeError, socket.timeout) as e:
                c.close()
                if time.monotonic() >= deadline:
                    return e
                time.sleep(0.05)

    def assertRefused(self, srv, source=None):
        got = self.open_conn(srv, source=source)
        if isinstance(got, harness.RawWs):
            # The handshake completed: it must at least not be usable.
            got.send_text({"type": "ping", "id": 1})
            try:
                got.wait_answer(1, wait=harness.timeout(3))
            except (EOFError, ConnectionError, socket.timeout, harness.Closed):
                return
            self.fail("connection %d from one address was accepted and answered" % (self.CAP + 1))

    def test_fourth_connection_is_refused_until_one_closes(self):
        srv = self.start_server("--max-connections-per-ip", self.CAP)
        conns = []
        for i in range(self.CAP):
            c = self.open_conn(srv, patience=harness.timeout(5))
            self.assertIsInstance(c, harness.RawWs, "connection %d of %d: %r" % (i + 1, self.CAP, c))
            conns.append(c)
        self.assertRefused(srv)
        # HTTP counts too: a plain request from the same address is refused as well.
        with self.assertRaises(OSError):
            harness.http_call("GET", srv.url + "healthz", wait=harness.timeout(5))
        # The first three still work.
        for i, c in enumerate(conns):
            c.send_text({"type": "ping", "id": i})
            self.assertEqual(c.wait_answer(i).get("type"), "ok")
        # Another loopback address has its own allowance.
        other = self.open_conn(srv, source="127.0.0.2", patience=harness.timeout(2))
        self.assertIsInstance(other, harness.RawWs, other)
        other.send_text({"type": "ping", "id": "o"})
        self.assertEqual(other.wait_answer("o").get("type"), "ok")
        # One closes: a new connection from the first address is accepted again.
        conns[0].send_close(1000)
        conns[0].read_close()
        conns[0].wait_eof()
        conns[0].close()
        again = self.open_conn(srv, patience=harness.timeout(5))
        self.assertIsInstance(again, harness.RawWs, "no connection after one closed: %r" % again)
        again.send_text({"type": "ping", "id": "again"})
        self.assertEqual(again.wait_answer("again").get("type"), "ok")
        # And the cap holds again.
        self.assertRefused(srv)

    def test_abruptly_dropped_connections_are_counted_down(self):
        srv = self.start_server("--max-connections-per-ip", self.CAP)
        for round_ in range(3):
            conns = []
            for i in range(self.CAP):
                c = self.open_conn(srv, patience=harness.timeout(5))
                self.assertIsInstance(c, harness.RawWs, "round %d, connection %d: %r" % (round_, i + 1, c))
                conns.append(c)
            for c in conns:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()  # a reset, no close handshake


if __name__ == "__main__":
    harness.main()
