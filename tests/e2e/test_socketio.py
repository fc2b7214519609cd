# SPDX-License-Identifier: MIT
"""The socket.io endpoint from outside, with a plain Engine.IO 4 polling client (stdlib HTTP)
and python3-websockets: socketio-listen serves /socket.io/ only, `socketio = false` turns it
off, a chat message from a /ws user reaches a socket.io page as new_msg and its sender sees it
delivered, a long-poll outliving lws's request timeout, the per-address session cap, an
oversized poll body, and a shutdown that answers a waiting long-poll. The real socket.io clients run in tests/socketio."""
import asyncio
import json
import os
import re
import sys
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SITE_SECRET = "socketio-secret-" + "s" * 32
RS = "\x1e"


def site_token(uid):
    return harness.make_jwt({"sub": uid, "exp": int(time.time()) + 600}, SITE_SECRET)


class Poller:
    """An Engine.IO revision 4 session over long-polling."""

    def __init__(self, base):
        self.base = base.rstrip("/") + "/socket.io/?EIO=4&transport=polling"
        r = harness.http_call("GET", self.base)
        if r.status != 200 or not r.text.startswith("0{"):
            raise AssertionError("handshake: %r" % (r,))
        self.open = json.loads(r.text[1:])
        self.url = self.base + "&sid=" + self.open["sid"]

    def post(self, *packets):
        r = harness.http_call("POST", self.url, body=RS.join(packets), headers={"Content-Type": "text/plain"})
        if (r.status, r.text) != (200, "ok"):
            raise AssertionError("post: %r" % (r,))

    async def get(self, wait=10):
        r = await asyncio.to_thread(harness.http_call, "GET", self.url, None, None, harness.timeout(wait))
        if r.status != 200:
            raise AssertionError("poll: %r" % (r,))
        return r.text.split(RS)

    async def events(self, name, count=1, wait=10):
        """The data of the next `count` events called `name` (others are skipped)."""
        got = []
        deadline = time.monotonic() + harness.timeout(wait)
        while len(got) < count:
            self.assertion(time.monotonic() < deadline, "no %s event in time; got %r" % (name, got))
            for p in await self.get(wait):
                if p.startswith("42"):
                    ev = json.loads(p[2:])
                    if ev[0] == name:
                        got.append(ev[1])
        return got

    @staticmethod
    def assertion(ok, why):
        if not ok:
            raise AssertionError(why)

    async def login(self, uid):
        self.post("40", '42["login",%s]' % json.dumps(site_token(uid)))
        await self.events("update_online_count")


class SocketIoTest(harness.AsyncChatdTestCase):
    def serve(self, *args):
        self.srv = self.start_server("--site-secret", SITE_SECRET, *args)
        return self.srv

    async def test_socketio_listen_serves_socketio_and_nothing_else(self):
        srv = self.serve("--socketio-listen", "127.0.0.1:0")
        m = re.search(r"socket\.io on (http://\S+)/socket\.io/", srv.first_line)
        self.assertTrue(m, srv.first_line)
        other = m.group(1)
        self.assertNotEqual(other + "/", srv.url)
        p = Poller(other)  # the handshake works there ...
        self.assertEqual(p.open["upgrades"], ["websocket"])
        self.assertEqual(harness.http_call("GET", other + "/").status, 404)  # ... and nothing else
        self.assertEqual(harness.http_call("GET", other + "/app.js").status, 404)
        with self.assertRaises(websockets.InvalidHandshake):  # refused: no upgrade there
            await asyncio.wait_for(websockets.connect(other.replace("http", "ws") + "/ws"), harness.T_ANSWER)
        ws = await asyncio.wait_for(websockets.connect(other.replace("http", "ws") +
                                                       "/socket.io/?EIO=4&transport=websocket"), harness.T_ANSWER)
        self.assertTrue((await asyncio.wait_for(ws.recv(), harness.T_ANSWER)).startswith('0{"sid":'))
        await ws.close()
        Poller(srv.url)  # the main port serves it too

    async def test_socketio_false_turns_the_endpoint_off(self):
        srv = self.serve("--socketio", "false")
        self.assertEqual(harness.http_call("GET", srv.url + "socket.io/?EIO=4&transport=polling").status, 404)
        p = harness.run_chatd(["--socketio", "false", "--socketio-listen", "127.0.0.1:2120", "check-config"])
        self.assertEqual(p.returncode, 2, p)
        self.assertIn("socketio-listen", p.stderr)

    async def test_a_chat_message_reaches_the_page_escaped_and_its_sender_sees_it_delivered(self):
        srv = self.serve()
        bob = Poller(srv.url)
        await bob.login("bob")
        alice = await self.connect(srv)
        await alice.login(token=site_token("alice"))
        await alice.send({"type": "send", "id": 1, "cid": "c1", "to": "bob", "text": "<b>\"hi\" & 'bye'</b>"})
        ok = await alice.wait_for("ok", re=1)
        self.assertEqual(await bob.events("new_msg"), ["&lt;b&gt;&quot;hi&quot; &amp; &#039;bye&#039;&lt;/b&gt;"])
        # The poll answer was written, so the bridge acked it: alice's device hears it arrived.
        d = await alice.wait_for("delivered")
        self.assertEqual((d["from"], d["upto"]), ("bob", ok["mid"]))
        # And bob is online for chatd like any device.
        key = harness.run_chatd(["--data-dir", srv.data_dir, "apikey", "add", "site"]).stdout.strip()
        r = harness.http_call("GET", srv.url + "api/presence?users=bob&devices=1", headers={"Authorization": "Bearer " + key})
        self.assertEqual(r.json(), {"bob": 1})

    async def test_a_poll_waits_longer_than_the_http_request_timeout(self):
        # lws ends a request whose answer is deferred after its 20 s request timeout; a long-poll
        # must wait up to the heartbeat interval (here 30 s) instead, and then carry what comes.
        srv = self.serve("--socketio-ping-interval", "30", "--socketio-ping-timeout", "30")
        key = harness.run_chatd(["--data-dir", srv.data_dir, "apikey", "add", "site"]).stdout.strip()
        p = Poller(srv.url)
        await p.login("dave")
        waiting = asyncio.ensure_future(p.get(wait=40))
        await asyncio.sleep(22)
        self.assertFalse(waiting.done(), waiting.done() and waiting.result())
        r = harness.http_call("POST", srv.url + "push", body="type=publish&to=dave&content=late&key=" + key,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((r.status, r.text), (200, "ok"))
        packets = await asyncio.wait_for(waiting, harness.timeout(10))
        self.assertIn('42["new_msg","late"]', packets)

    async def test_sessions_per_address_are_capped(self):
        srv = self.serve("--max-connections-per-ip", "3")
        sessions = [Poller(srv.url) for _ in range(3)]
        r = harness.http_call("GET", srv.url + "socket.io/?EIO=4&transport=polling")
        self.assertEqual(r.status, 403, r)
        self.assertIn("max-connections-per-ip", r.json()["message"])
        sessions[0].post("1")  # a page closes: its place is free again
        Poller(srv.url)

    async def test_an_oversized_poll_body_is_refused(self):
        srv = self.serve()
        p = Poller(srv.url)
        r = harness.http_call("POST", p.url, body="4" + "x" * (70 * 1024))
        self.assertEqual(r.status, 413, r)

    async def test_a_shutdown_answers_the_waiting_poll_so_the_page_reconnects(self):
        srv = self.serve()
        p = Poller(srv.url)
        await p.login("carol")
        waiting = asyncio.ensure_future(p.get(wait=20))
        await asyncio.sleep(0.3)
        self.assertFalse(waiting.done())
        t0 = time.monotonic()
        srv.stop()
        packets = await asyncio.wait_for(waiting, harness.timeout(10))
        self.assertEqual(packets, ["1"])  # Engine.IO's close: the client reconnects by itself
        self.assertLess(time.monotonic() - t0, harness.timeout(6))
        self.assertEqual(srv.returncode, 0)


if __name__ == "__main__":
    harness.main()
