# SPDX-License-Identifier: MIT
"""Process lifecycle: graceful shutdown on SIGTERM/SIGINT (1001 to clients, answers first,
exit 0), one server per data dir, data surviving restarts and a kill -9."""
import asyncio
import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STOP_BOUND = 5  # seconds from the signal to the exit: the contract


class ShutdownTest(harness.AsyncChatdTestCase):
    async def shutdown_with_clients(self, sig):
        srv = self.start_server()
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        b = await self.logged_in(srv, bob)
        anonymous = await self.connect(srv)  # connected, never logged in
        srv.send_signal(sig)
        results = await asyncio.wait_for(
            asyncio.gather(a.closed(STOP_BOUND + 1), b.closed(STOP_BOUND + 1), anonymous.closed(STOP_BOUND + 1)),
            STOP_BOUND + 2)
        for name, (code, got) in zip(("alice", "bob", "anonymous"), results):
            self.assertEqual(code, 1001, (name, got))
        rc = await srv.wait_exit_async(STOP_BOUND)
        self.assertIsNotNone(rc, "chatd still running %d s after the signal" % STOP_BOUND)
        self.assertEqual(rc, 0, srv.log())
        return srv

    async def test_sigterm_closes_clients_1001_and_exits_0(self):
        srv = await self.shutdown_with_clients(signal.SIGTERM)
        errors = [line for line in srv.log().splitlines() if " err: " in line]
        self.assertEqual(errors, [], "errors logged during a clean shutdown")

    async def test_sigint_closes_clients_1001_and_exits_0(self):
        await self.shutdown_with_clients(signal.SIGINT)

    async def test_answers_in_flight_are_delivered_before_1001(self):
        data_dir = tempfile.mkdtemp(prefix="chatd-e2e-data-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        srv = self.start_server(data_dir=data_dir)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        n = 20
        # One frame with n sends (each answered only once it is durable), then the signal at once.
        lines = ['{"type":"send","id":%d,"cid":"c-%d","to":"%s","text":"m%d"}' % (i, i, bob.user, i)
                 for i in range(n)]
        await a.send("\n".join(lines))
        srv.send_signal(signal.SIGTERM)
        code, got = await a.closed(STOP_BOUND + 1)
        self.assertEqual(code, 1001, got)
        oks = {o["re"]: o for o in got if o.get("type") == "ok"}
        self.assertEqual(sorted(oks), list(range(n)), "answers before the close: %s" % got)
        mids = [oks[i]["mid"] for i in range(n)]
        self.assertEqual(mids, sorted(mids))
        self.assertEqual(len(set(mids)), n)
        rc = await srv.wait_exit_async(STOP_BOUND)
        self.assertEqual(rc, 0, srv.log())
        srv.close()
        # What was answered ok is stored: bob sees all of it after a restart.
        srv2 = self.start_server(data_dir=data_dir)
        b = await self.logged_in(srv2, bob)
        history = await b.request({"type": "history", "with": alice.user, "limit": 50})
        self.assertEqual(history.get("type"), "ok", history)
        self.assertEqual([m.get("mid") for m in history.get("messages", [])], mids, history)
        self.assertEqual([m.get("text") for m in history["messages"]], ["m%d" % i for i in range(n)])

    async def test_http_request_during_shutdown_does_not_hang(self):
        srv = self.start_server()
        ws = await self.connect(srv)
        srv.send_signal(signal.SIGTERM)
        try:
            r = harness.http_call("GET", srv.url + "healthz", wait=harness.timeout(5))
            self.assertIn(r.status, (200, 503), r)
        except OSError:
            pass  # refused: also fine
        code, _ = await ws.closed(STOP_BOUND + 1)
        self.assertEqual(code, 1001)
        self.assertEqual(await srv.wait_exit_async(STOP_BOUND), 0)


class DataDirTest(harness.ChatdTestCase):
    def fresh_dir(self):
        d = tempfile.mkdtemp(prefix="chatd-e2e-data-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_second_server_on_the_same_data_dir_fails(self):
        data_dir = self.fresh_dir()
        first = self.start_server(data_dir=data_dir)
        p = harness.run_chatd(["--listen", "127.0.0.1:0", "--data-dir", data_dir], wait=harness.timeout(30))
        self.assertNotEqual(p.returncode, 0, p)
        self.assertNotIn("serving on", p.stdout)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr, got: %r" % p.stderr)
        self.assertIn(os.path.basename(data_dir), lines[0])
        # The first one is undisturbed.
        self.assertEqual(first.get("/healthz").status, 200)
        acct = first.new_user("still")
        self.assertTrue(acct.token)

    def test_data_survives_a_graceful_restart(self):
        data_dir = self.fresh_dir()
        srv = self.start_server(data_dir=data_dir)
        acct = srv.new_user("keep")
        self.assertEqual(srv.stop(), 0)
        srv.close()
        srv2 = self.start_server(data_dir=data_dir)
        r = srv2.login(acct.user, acct.password)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(srv2.register(acct.user, "another password").status, 409)

    def test_kill_9_releases_the_data_dir_and_keeps_the_data(self):
        data_dir = self.fresh_dir()
        srv = self.start_server(data_dir=data_dir)
        acct = srv.new_user("crash")
        srv.stop(sig=signal.SIGKILL)
        self.assertEqual(srv.returncode, -signal.SIGKILL)
        srv.close()
        srv2 = self.start_server(data_dir=data_dir)
        self.assertEqual(srv2.login(acct.user, acct.password).status, 200)

    def test_listen_address_in_use_fails_with_one_line(self):
        first = self.start_server()
        p = harness.run_chatd(["--listen", "127.0.0.1:%d" % first.port, "--data-dir", self.fresh_dir()],
                              wait=harness.timeout(30))
        self.assertNotEqual(p.returncode, 0, p)
        self.assertNotIn("serving on", p.stdout)
        # A line of chatd's own says what went wrong (libwebsockets logs its own lines too).
        said = [line for line in p.stderr.splitlines() if line.startswith("chatd: ") and str(first.port) in line]
        self.assertEqual(len(said), 1, p.stderr)
        self.assertEqual(first.get("/healthz").status, 200)


if __name__ == "__main__":
    harness.main()
