# SPDX-License-Identifier: MIT
"""A web site's backend end to end (docs/http-api.md): API keys (chatd apikey, revoked while
the server runs), POST /api/publish to a user online and offline, a list, everyone and a room,
idempotent cids, web-msg-sender's /push (form POST and GET; ok / error / fail), the push
listener with and without a key, the limits (401, 413, 429), delivery status from queued to
delivered to read, presence and unread, the !notifications feed, and a restart."""
import asyncio
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SITE_SECRET = "site-secret-" + "s" * 32


def add_key(data_dir, name):
    p = harness.run_chatd(["--data-dir", data_dir, "apikey", "add", name])
    if p.returncode != 0:
        raise AssertionError("apikey add: %r" % (p,))
    key = p.stdout.strip()
    if not re.fullmatch(r"chk_[A-Za-z0-9_-]{43}", key):
        raise AssertionError("apikey add printed %r" % p.stdout)
    return key


def site_token(uid):
    return harness.make_jwt({"sub": uid, "exp": int(time.time()) + 600}, SITE_SECRET)


class SiteTestBase(harness.AsyncChatdTestCase):
    def serve(self, *args, **kw):
        self.data_dir = self.temp_data_dir()
        self.key = add_key(self.data_dir, "site")
        self.srv = self.start_server("--site-secret", SITE_SECRET, *args, data_dir=self.data_dir, **kw)
        return self.srv

    def call(self, method, path, body=None, key=None, headers=None, url=None):
        hdrs = dict(headers or {})
        key = self.key if key is None else key
        if key:
            hdrs["Authorization"] = "Bearer " + key
        return harness.http_call(method, (url or self.srv.url) + path.lstrip("/"), body=body, headers=hdrs)

    def publish(self, body, key=None, expect=200):
        r = self.call("POST", "/api/publish", body, key=key)
        self.assertEqual(r.status, expect, (body, r))
        return r.json()

    async def site_user(self, uid=None, device=None):
        """A WebSocket logged in as site user `uid` (a site token); (uid, ws)."""
        uid = uid or "%d@example.com" % int.from_bytes(os.urandom(4), "big")
        ws = await self.connect(self.srv)
        fields = {"token": site_token(uid)}
        if device:
            fields["device"] = device
        await ws.login(**fields)
        return uid, ws


class PublishTest(SiteTestBase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.serve()

    async def test_publish_to_an_online_user_is_delivered_live(self):
        uid, ws = await self.site_user()
        body = self.publish({"to": uid, "title": "New message", "text": "Bob wrote <b>to</b> you",
                             "data": {"url": "/inbox", "n": 3}})
        self.assertEqual(body["delivered"], {uid: True})
        self.assertEqual(body["queued"], [])
        n = await ws.wait_for("notification")
        self.assertEqual(n["mid"], body["mid"])
        self.assertEqual((n["title"], n["text"], n["data"]), ("New message", "Bob wrote <b>to</b> you",
                                                              {"url": "/inbox", "n": 3}))
        self.assertLess(abs(n["ts"] / 1000 - time.time()), 60)

    async def test_publish_to_an_offline_user_is_queued_delivered_at_login_and_acked(self):
        uid = "offline-%s" % os.urandom(4).hex()
        missing = self.publish({"to": uid, "text": "x"}, expect=404)
        self.assertEqual(missing["unknown"], [uid])
        body = self.publish({"to": uid, "text": "while you were away", "create": True})
        self.assertEqual((body["delivered"], body["queued"]), ({}, [uid]))
        ws = await self.connect(self.srv)
        welcome, got, live = await ws.catch_up(token=site_token(uid))
        self.assertEqual(welcome["unread"].get("!notifications"), 1)
        self.assertEqual([(o["type"], o["mid"], o["text"]) for o in got],
                         [("notification", body["mid"], "while you were away")])
        # Not acked: it comes again; acked: it does not.
        await ws.close()
        ws = await self.connect(self.srv)
        _, got, live = await ws.catch_up(token=site_token(uid))
        self.assertEqual([o["mid"] for o in got], [body["mid"]])
        await ws.send({"type": "ack", "upto": live["mid"]})
        await ws.request({"type": "ping"})
        await ws.close()
        ws = await self.connect(self.srv)
        _, got, _ = await ws.catch_up(token=site_token(uid))
        self.assertEqual(got, [])

    async def test_publish_to_a_list_everyone_and_a_room(self):
        a, wa = await self.site_user()
        b, wb = await self.site_user()
        offline = "list-offline-%s" % os.urandom(3).hex()
        body = self.publish({"to": [a, b, offline, a], "text": "to three", "create": True})
        self.assertEqual(body["delivered"], {a: True, b: True})
        self.assertEqual(body["queued"], [offline])
        for ws in (wa, wb):
            self.assertEqual((await ws.wait_for("notification"))["mid"], body["mid"])
        everyone = self.publish({"to": "*", "title": "Maintenance", "text": "at 22:00"})
        self.assertTrue(everyone["everyone"])
        self.assertGreaterEqual(everyone["online"], 2)
        for ws in (wa, wb):
            self.assertEqual((await ws.wait_for("notification", pred=lambda o: o["mid"] == everyone["mid"]))["title"],
                             "Maintenance")
        # A room: its members, online or not.
        room = "site-room-%s" % os.urandom(3).hex()
        self.assertEqual((await wa.request({"type": "join", "room": room}))["type"], "ok")
        member = self.srv.new_user("member")
        wm = await self.logged_in(self.srv, member)
        self.assertEqual((await wm.request({"type": "join", "room": room}))["type"], "ok")
        await wm.close()
        body = self.publish({"room": room, "text": "room news"})
        self.assertEqual(body["delivered"], {a: True})
        self.assertEqual(body["queued"], [member.user])
        self.assertEqual((await wa.wait_for("notification", pred=lambda o: o["mid"] == body["mid"]))["text"],
                         "room news")
        await asyncio.sleep(0.2)
        self.assertFalse([o for o in wb.seen if o.get("mid") == body["mid"]], "b is not in the room")
        self.publish({"room": "no-such-room-here", "text": "x"}, expect=404)

    async def test_a_cid_makes_a_publish_idempotent(self):
        uid, ws = await self.site_user()
        first = self.publish({"to": uid, "text": "once", "cid": "order-17"})
        again = self.publish({"to": uid, "text": "once", "cid": "order-17"})
        self.assertEqual(again["mid"], first["mid"])
        self.assertTrue(again.get("dup"))
        self.assertEqual(again["delivered"], {uid: True})
        await ws.wait_for("notification")
        await ws.request({"type": "ping"})
        await asyncio.sleep(0.2)
        self.assertEqual(len([o for o in ws.seen if o.get("type") == "notification"]), 1)

    async def test_bad_requests_are_refused_with_a_clear_error(self):
        for body, why in [("{not json", "json"), ({"text": "no recipient"}, "to"), ({"to": "a b", "text": "x"}, "name"),
                          ({"to": "x", "room": "y", "text": "x"}, "both"), ({"to": "x", "data": [1], "text": "x"}, "data"),
                          ({"to": "x"}, "no text")]:
            r = self.call("POST", "/api/publish", body)
            self.assertEqual(r.status, 400, (why, r))
            self.assertEqual(r.json()["error"]["code"], "bad_request", why)
        r = self.call("POST", "/api/publish", {"to": "x", "text": "y" * 20000})
        self.assertEqual(r.status, 413, r)
        r = self.call("POST", "/api/publish", b"{" + b" " * (2 << 20) + b"}")
        self.assertEqual(r.status, 413, r)

    async def test_keys_missing_bad_and_revoked_get_401(self):
        for key in ("", "chk_" + "A" * 43, self.key + "x"):
            r = self.call("POST", "/api/publish", {"to": "*", "text": "x"}, key=key or "")
            self.assertEqual(r.status, 401, (key, r))
            self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer")
            for path in ("/api/messages/1", "/api/presence?users=a", "/api/users/a/unread"):
                self.assertEqual(self.call("GET", path, key=key or "").status, 401, (path, key))
        other = add_key(self.data_dir, "other")  # made while the server runs: works at once
        self.assertEqual(self.call("POST", "/api/publish", {"to": "*", "text": "x"}, key=other).status, 200)
        p = harness.run_chatd(["--data-dir", self.data_dir, "apikey", "revoke", "other"])
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(self.call("POST", "/api/publish", {"to": "*", "text": "x"}, key=other).status, 401)
        self.assertEqual(self.call("POST", "/api/publish", {"to": "*", "text": "x"}).status, 200)
        p = harness.run_chatd(["--data-dir", self.data_dir, "apikey", "list"])
        self.assertRegex(p.stdout, r"(?m)^other\s+\S+ \S+\s+\d{4}-")
        self.assertRegex(p.stdout, r"(?m)^site\s+\S+ \S+\s+-$")
        self.assertNotIn(self.key, p.stdout)

    async def test_delivery_status_goes_queued_delivered_read(self):
        uid = "status-%s" % os.urandom(3).hex()
        body = self.publish({"to": uid, "text": "read me", "create": True})
        status = self.call("GET", "/api/messages/%d" % body["mid"]).json()
        self.assertEqual(status, {"mid": body["mid"], "recipients": [
            {"user": uid, "delivered_at": None, "read_at": None, "delivered": False, "read": False}]})
        ws = await self.connect(self.srv)
        _, got, live = await ws.catch_up(token=site_token(uid))
        await ws.send({"type": "ack", "upto": live["mid"]})
        await ws.request({"type": "ping"})
        rec = self.call("GET", "/api/messages/%d" % body["mid"]).json()["recipients"][0]
        self.assertIsInstance(rec["delivered_at"], int)
        self.assertIsNone(rec["read_at"])
        self.assertEqual((await ws.request({"type": "read", "room": "!notifications", "upto": body["mid"]}))["type"], "ok")
        rec = self.call("GET", "/api/messages/%d" % body["mid"]).json()["recipients"][0]
        self.assertIsInstance(rec["read_at"], int)
        self.assertGreaterEqual(rec["read_at"], rec["delivered_at"])
        # Chat messages too.
        alice, bob = self.srv.new_user("alice"), self.srv.new_user("bob")
        wa = await self.logged_in(self.srv, alice)
        sent = await wa.request({"type": "send", "cid": "c1", "to": bob.user, "text": "hi"})
        rec = self.call("GET", "/api/messages/%d" % sent["mid"]).json()["recipients"]
        self.assertEqual(rec, [{"user": bob.user, "delivered_at": None, "read_at": None, "delivered": False,
                                "read": False}])
        self.assertEqual(self.call("GET", "/api/messages/999999").status, 404)
        self.assertEqual(self.call("GET", "/api/messages/abc").status, 404)

    async def test_presence_and_unread(self):
        uid, ws = await self.site_user()
        _, ws2 = await self.site_user(uid, device="phone")
        offline = "nobody-%s" % os.urandom(3).hex()
        q = urllib.parse.urlencode({"users": "%s,%s" % (uid, offline)})
        self.assertEqual(self.call("GET", "/api/presence?" + q).json(), {uid: True, offline: False})
        self.assertEqual(self.call("GET", "/api/presence?" + q + "&devices=1").json(), {uid: 2, offline: 0})
        self.assertEqual(self.call("GET", "/api/presence").status, 400)
        self.publish({"to": uid, "text": "one"})
        self.publish({"to": uid, "text": "two"})
        r = self.call("GET", "/api/users/%s/unread" % urllib.parse.quote(uid))
        self.assertEqual(r.json(), {"user": uid, "unread": {"!notifications": 2}})
        self.assertEqual(self.call("GET", "/api/users/%s/unread" % offline).status, 404)

    async def test_the_notification_feed_reads_and_pages_like_a_conversation(self):
        uid, ws = await self.site_user()
        mids = [self.publish({"to": uid, "text": "n%d" % i})["mid"] for i in range(3)]
        page = await ws.request({"type": "history", "room": "!notifications", "limit": 2})
        self.assertEqual([m["mid"] for m in page["messages"]], mids[1:])
        self.assertTrue(page["more"])
        page = await ws.request({"type": "history", "room": "!notifications", "before": mids[1], "limit": 2})
        self.assertEqual([m["mid"] for m in page["messages"]], mids[:1])
        self.assertEqual((await ws.request({"type": "read", "room": "!notifications", "upto": mids[-1]}))["type"], "ok")
        ws2 = await self.connect(self.srv)
        welcome = await ws2.login(token=site_token(uid))
        self.assertNotIn("!notifications", welcome["unread"])


class PushTest(SiteTestBase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.serve("--push-listen", "127.0.0.1:0")
        m = re.search(r"push on (http://\S+/push)", self.srv.first_line)
        self.assertTrue(m, self.srv.first_line)
        self.push_url = m.group(1)

    def push(self, fields, method="POST", url=None, key=None):
        url = url or self.push_url
        form = urllib.parse.urlencode(fields)
        hdrs = {"Authorization": "Bearer " + key} if key else {}
        if method == "GET":
            return harness.http_call("GET", url + "?" + form, headers=hdrs)
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        return harness.http_call("POST", url, body=form, headers=hdrs)

    async def test_push_answers_like_web_msg_sender(self):
        uid, ws = await self.site_user()
        r = self.push({"type": "publish", "to": uid, "content": "a & b = <c>", "key": self.key})
        self.assertEqual((r.status, r.text), (200, "ok"))
        n = await ws.wait_for("notification")
        self.assertEqual(n["text"], "a & b = <c>")  # as sent: the page shows text, never HTML
        r = self.push({"type": "publish", "to": uid, "content": "by GET", "key": self.key}, method="GET")
        self.assertEqual((r.status, r.text), (200, "ok"))
        self.assertEqual((await ws.wait_for("notification"))["text"], "by GET")
        # Everyone: empty `to`.
        r = self.push({"type": "publish", "to": "", "content": "all"}, key=self.key)
        self.assertEqual((r.status, r.text), (200, "ok"))
        self.assertEqual((await ws.wait_for("notification"))["text"], "all")
        # Another type: fail.
        self.assertEqual(self.push({"type": "other", "key": self.key}).text, "fail")
        self.assertEqual(self.push({"key": self.key}, method="GET").text, "fail")

    async def test_push_to_an_unknown_uid_answers_error_and_keeps_it_for_their_first_login(self):
        uid = "1764000000%d" % (int.from_bytes(os.urandom(2), "big"))  # the demo's timestamp-style uid
        r = self.push({"type": "publish", "to": uid, "content": "welcome", "key": self.key})
        self.assertEqual((r.status, r.text), (200, "error"))
        ws = await self.connect(self.srv)
        _, got, _ = await ws.catch_up(token=site_token(uid))
        self.assertEqual([(o["type"], o["text"]) for o in got], [("notification", "welcome")])

    async def test_the_main_listener_serves_push_too_and_the_push_listener_nothing_else(self):
        r = self.push({"type": "publish", "to": "", "content": "x", "key": self.key}, url=self.srv.url + "push")
        self.assertEqual((r.status, r.text), (200, "ok"))
        r = harness.http_call("GET", self.push_url.replace("/push", "/"))
        self.assertEqual(r.status, 404)
        r = harness.http_call("POST", self.push_url.replace("/push", "/api/publish"), body={"to": "*", "text": "x"},
                              headers={"Authorization": "Bearer " + self.key})
        self.assertEqual(r.status, 404)

    async def test_the_push_listener_needs_a_key(self):
        for fields in ({"type": "publish", "to": "", "content": "x"},
                       {"type": "publish", "to": "", "content": "x", "key": "chk_wrong"}):
            r = self.push(fields)
            self.assertEqual((r.status, r.text), (401, "unauthorized"), fields)


class PushOpenTest(SiteTestBase):
    async def test_push_open_on_loopback_needs_no_key_there_only(self):
        self.serve("--push-listen", "127.0.0.1:0", "--push-open", "true")
        push_url = re.search(r"push on (http://\S+/push)", self.srv.first_line).group(1)
        uid, ws = await self.site_user()
        form = urllib.parse.urlencode({"type": "publish", "to": uid, "content": "open"})
        r = harness.http_call("GET", push_url + "?" + form)
        self.assertEqual((r.status, r.text), (200, "ok"))
        self.assertEqual((await ws.wait_for("notification"))["text"], "open")
        r = harness.http_call("GET", self.srv.url + "push?" + form)  # the main listener: still a key
        self.assertEqual(r.status, 401)

    def test_push_open_is_refused_off_loopback(self):
        for args in (["--push-listen", "0.0.0.0:2121", "--push-open", "true"], ["--push-open", "true"]):
            p = harness.run_chatd(args + ["check-config"])
            self.assertEqual(p.returncode, 2, p)
            self.assertIn("push-open", p.stderr)


class LimitsTest(SiteTestBase):
    async def test_the_publish_rate_is_per_key_and_answered_429_with_retry_after(self):
        self.serve("--publish-rate", "1", "--publish-burst", "3")
        other = add_key(self.data_dir, "other")
        codes = [self.call("POST", "/api/publish", {"to": "*", "text": "x%d" % i}).status for i in range(5)]
        self.assertEqual(codes[:3], [200, 200, 200])
        self.assertEqual(codes[3:], [429, 429])
        r = self.call("POST", "/api/publish", {"to": "*", "text": "x"})
        self.assertEqual(r.status, 429)
        self.assertGreaterEqual(int(r.headers.get("Retry-After")), 1)
        self.assertEqual(self.call("POST", "/api/publish", {"to": "*", "text": "x"}, key=other).status, 200)
        form = urllib.parse.urlencode({"type": "publish", "to": "", "content": "x", "key": self.key})
        r = harness.http_call("GET", self.srv.url + "push?" + form)
        self.assertEqual((r.status, r.text), (429, "rate_limited"))


class RestartTest(SiteTestBase):
    async def test_notifications_survive_a_restart(self):
        self.serve()
        uid = "restart-%s" % os.urandom(3).hex()
        body = self.publish({"to": uid, "title": "kept", "text": "across a restart", "create": True})
        self.srv.stop()
        self.srv = self.start_server("--site-secret", SITE_SECRET, data_dir=self.data_dir)
        ws = await self.connect(self.srv)
        welcome, got, _ = await ws.catch_up(token=site_token(uid))
        self.assertEqual(welcome["unread"].get("!notifications"), 1)
        self.assertEqual([(o["mid"], o["title"]) for o in got], [(body["mid"], "kept")])
        self.assertEqual(self.publish({"to": uid, "text": "again", "cid": "x"})["mid"], body["mid"] + 1)


if __name__ == "__main__":
    harness.main()
