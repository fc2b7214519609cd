# SPDX-License-Identifier: MIT
"""Webhooks end to end, received by a small HTTP server on loopback: every event signed
(HMAC-SHA256 of timestamp.body) with an id and a timestamp; message.undelivered only for a
message no device acked in time; message.read; user.online and user.offline (after the grace);
a receiver that answered 500 gets the same event again; a full queue drops the oldest and
`chatd stats` counts them."""
import asyncio
import hashlib
import hmac
import http.server
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "webhook-secret-" + "w" * 20


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST; `fail` answers 500 that many times."""

    def __init__(self):
        self.events = []
        self.posts = 0
        self.fail = 0
        self.bad_signatures = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ts = self.headers.get("X-Chatd-Timestamp", "")
                sig = self.headers.get("X-Chatd-Signature", "")
                want = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                with outer.lock:
                    outer.posts += 1
                    if not hmac.compare_digest(sig, want):
                        outer.bad_signatures.append((sig, body))
                    failing = outer.fail > 0
                    if failing:
                        outer.fail -= 1
                    else:
                        event = json.loads(body)
                        event["_headers"] = {k: self.headers.get(k) for k in
                                             ("X-Chatd-Event", "X-Chatd-Event-Id", "X-Chatd-Timestamp",
                                              "Content-Type")}
                        outer.events.append(event)
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def of(self, event, pred=None):
        with self.lock:
            return [e for e in self.events if e["event"] == event and (pred is None or pred(e["data"]))]

    async def wait(self, event, pred=None, wait=10):
        deadline = time.monotonic() + harness.timeout(wait)
        while time.monotonic() < deadline:
            found = self.of(event, pred)
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError("no %s webhook within %d s; got %s" % (event, wait, [e["event"] for e in self.events]))


class WebhookTest(harness.AsyncChatdTestCase):
    def start(self, *args, receiver_url=None):
        if receiver_url is None:
            self.rx = Receiver()
            self.addCleanup(self.rx.close)
            receiver_url = self.rx.url
        self.data_dir = self.temp_data_dir()
        self.srv = self.start_server("--webhook-url", receiver_url, "--webhook-secret", SECRET,
                                     "--webhook-undelivered-after", "1", "--presence-grace-ms", "200", *args,
                                     data_dir=self.data_dir)
        return self.srv

    async def test_events_are_signed_and_say_online_read_offline(self):
        self.start()
        alice, bob = self.srv.new_user("alice"), self.srv.new_user("bob")
        wa = await self.logged_in(self.srv, alice)
        online = await self.rx.wait("user.online", lambda d: d["user"] == alice.user)
        self.assertEqual(online["_headers"]["X-Chatd-Event"], "user.online")
        self.assertEqual(online["_headers"]["X-Chatd-Event-Id"], str(online["id"]))
        self.assertEqual(online["_headers"]["Content-Type"], "application/json")
        self.assertLess(abs(int(online["_headers"]["X-Chatd-Timestamp"]) - time.time()), 60)
        self.assertLess(abs(online["created_at"] / 1000 - time.time()), 60)
        wb = await self.logged_in(self.srv, bob)
        sent = await wa.request({"type": "send", "cid": "c1", "to": bob.user, "text": "hi"})
        await wb.wait_for("message")
        self.assertEqual((await wb.request({"type": "read", "with": alice.user, "upto": sent["mid"]}))["type"], "ok")
        read = await self.rx.wait("message.read", lambda d: d["user"] == bob.user)
        self.assertEqual(read["data"], {"user": bob.user, "with": alice.user, "upto": sent["mid"]})
        await wb.close()
        off = await self.rx.wait("user.offline", lambda d: d["user"] == bob.user)
        self.assertGreater(off["id"], read["id"])
        self.assertEqual(self.rx.bad_signatures, [])

    async def test_undelivered_fires_only_for_a_message_nobody_acked(self):
        self.start()
        alice, bob, carol = self.srv.new_user("alice"), self.srv.new_user("bob"), self.srv.new_user("carol")
        wa = await self.logged_in(self.srv, alice)
        wc = await self.logged_in(self.srv, carol)
        to_bob = await wa.request({"type": "send", "cid": "b1", "to": bob.user, "text": "are you there?"})
        to_carol = await wa.request({"type": "send", "cid": "c1", "to": carol.user, "text": "hello carol"})
        got = await wc.wait_for("message")
        await wc.send({"type": "ack", "upto": got["mid"]})
        await wc.request({"type": "ping"})
        ev = await self.rx.wait("message.undelivered", lambda d: d["user"] == bob.user)
        self.assertEqual(ev["data"], {"mid": to_bob["mid"], "user": bob.user, "kind": "message", "from": alice.user,
                                      "text": "are you there?", "ts": to_bob["ts"]})
        await asyncio.sleep(harness.timeout(2))  # carol's check is due by now too
        self.assertEqual(self.rx.of("message.undelivered", lambda d: d["mid"] == to_carol["mid"]), [])
        self.assertEqual(len(self.rx.of("message.undelivered")), 1)
        self.assertEqual(self.rx.bad_signatures, [])

    async def test_a_failed_post_is_retried_with_the_same_event(self):
        self.start()
        self.rx.fail = 1
        alice = self.srv.new_user("alice")
        await self.logged_in(self.srv, alice)
        ev = await self.rx.wait("user.online", lambda d: d["user"] == alice.user)
        self.assertGreaterEqual(self.rx.posts, 2)  # the 500, then this one
        self.assertEqual(self.rx.of("user.online")[0]["id"], ev["id"])
        self.assertIn("failed (HTTP 500)", self.srv.log())

    async def test_a_full_queue_drops_the_oldest_and_counts_them(self):
        # Nothing listens at this address: every POST fails, the events pile up.
        self.start("--webhook-queue-max", "3", receiver_url="http://127.0.0.1:9/hook")
        for _ in range(6):
            acct = self.srv.new_user("u")
            ws = await self.logged_in(self.srv, acct)
            await ws.close()
        deadline = time.monotonic() + harness.timeout(10)
        while True:
            p = harness.run_chatd(["--data-dir", self.data_dir, "stats"])
            m = re.search(r"webhook events:\s+(\d+) waiting, (\d+) dropped", p.stdout)
            self.assertTrue(m, p.stdout)
            if int(m.group(2)) > 0 and int(m.group(1)) <= 3:
                break
            self.assertLess(time.monotonic(), deadline, p.stdout)
            await asyncio.sleep(0.2)
        self.assertIn("dropped", self.srv.log())


if __name__ == "__main__":
    harness.main()
