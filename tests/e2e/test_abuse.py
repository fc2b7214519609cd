# SPDX-License-Identifier: MIT
"""What one client can cost the server and the other users: memory held on a connection's
behalf (bounded by its outbound limit), the send rate limit across reconnects, room creation
and membership churn, and password guessing. Each test prints one line of figures."""
import asyncio
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FAST = ("--rate", 100000, "--burst", 100000)
SANITIZED = bool(os.environ.get("CHATD_SANITIZE"))  # RSS means little under ASan (shadow memory, quarantine)
MIB = 1024 * 1024


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss(pid):
    """Resets VmHWM (the peak resident size) so it measures from now; False if not allowed."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def figure(line):
    print("figures: " + line, flush=True)


class MemoryTest(harness.AsyncChatdTestCase):
    async def test_pipelined_history_requests_hold_at_most_the_outbound_limit(self):
        srv = self.start_server(*FAST)  # outbound-limit: 8 MiB (the default)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        text = "x" * 16000
        for first in range(0, 200, 50):
            for n in range(first, first + 50):
                await a.send({"type": "send", "id": "s%d" % n, "cid": "c%d" % n, "to": bob.user, "text": text})
            for n in range(first, first + 50):
                self.assertEqual((await a.wait_seen(pred=lambda o, i="s%d" % n: o.get("re") == i))["type"], "ok")
        raw = self.raw(srv)
        raw.login(bob.token)
        pid = srv.proc.pid
        peak_resettable = reset_peak_rss(pid)
        before_kb = status_kb(pid, "VmHWM" if peak_resettable else "VmRSS")
        # One frame, 64 requests for 200 messages of 16 KB each: 200 MB if all were built at once.
        raw.send_text("\n".join(json.dumps({"type": "history", "id": "h%d" % i, "with": alice.user, "limit": 200})
                                for i in range(64)))
        # A bystander is answered meanwhile, and quickly.
        t0 = time.monotonic()
        self.assertEqual((await a.request({"type": "ping"}))["type"], "ok")
        bystander_ms = (time.monotonic() - t0) * 1000
        await asyncio.sleep(2)  # the server works on the requests; this client reads nothing yet
        after_kb = status_kb(pid, "VmHWM" if peak_resettable else "VmRSS")
        growth = (after_kb - before_kb) / 1024
        figure("64 pipelined history requests over 16 KB messages: peak RSS +%.1f MiB (%s), "
               "bystander ping %.1f ms" % (growth, "VmHWM" if peak_resettable else "VmRSS", bystander_ms))
        # Every request is answered, in order, once the client reads: pages of about 1 MiB that
        # say there is more, and the connection was never closed for being slow.
        answers, mids_seen = [], set()
        deadline = time.monotonic() + harness.timeout(60)
        while len(answers) < 64 and time.monotonic() < deadline:
            for obj in raw.recv_objects(wait=max(0.1, deadline - time.monotonic())):
                if str(obj.get("re", "")).startswith("h"):
                    answers.append(obj)
        self.assertEqual([o["re"] for o in answers], ["h%d" % i for i in range(64)])
        for o in answers:
            self.assertEqual(o["type"], "ok", o)
            size = len(json.dumps(o))
            self.assertLess(size, 1.2 * MIB, "a history answer is bounded by bytes too")
            self.assertTrue(o["more"])
            mids_seen.update(m["mid"] for m in o["messages"])
            self.assertGreater(len(o["messages"]), 10)
        if not SANITIZED:
            self.assertLess(growth, 40, "the server held %.0f MiB for one connection (outbound limit 8 MiB)" % growth)
        await a.close()


class RateTest(harness.AsyncChatdTestCase):
    async def test_reconnecting_does_not_reset_the_send_rate_limit(self):
        srv = self.start_server()  # rate 20/s, burst 100
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        t0 = time.monotonic()
        oks = limited = 0
        for c in range(5):
            ws = await self.logged_in(srv, alice, device="d%d" % c)
            await ws.send("\n".join(json.dumps({"type": "send", "id": "c%d-%d" % (c, i), "cid": "c%d-%d" % (c, i),
                                                "to": bob.user, "text": "x"}) for i in range(150)))
            for i in range(150):
                answer = await ws.wait_seen(pred=lambda o, r="c%d-%d" % (c, i): o.get("re") == r)
                oks += answer["type"] == "ok"
                limited += answer.get("code") == "rate_limited"
            await ws.close()
        elapsed = time.monotonic() - t0
        figure("5 connections x 150 pipelined sends in %.2f s: %d ok, %d rate_limited (burst 100 + 20/s allows %d)"
               % (elapsed, oks, limited, 100 + int(20 * elapsed)))
        self.assertEqual(oks + limited, 750)
        self.assertLessEqual(oks, 100 + 20 * elapsed + 1)


class RoomChurnTest(harness.AsyncChatdTestCase):
    async def test_room_creation_and_membership_churn_are_throttled(self):
        srv = self.start_server(*FAST)  # sends unlimited here; rooms: room-rate 1/s, room-burst 20
        mallory, members = srv.new_user("mallory"), [srv.new_user("m") for _ in range(3)]
        hub = harness.unique_name("hub").replace("_", "-")
        watchers = []
        for acct in members:
            ws = await self.logged_in(srv, acct)
            self.assertEqual((await ws.request({"type": "join", "room": hub}))["type"], "ok")
            watchers.append(ws)
        m = await self.logged_in(srv, mallory)
        t0 = time.monotonic()
        # 200 joins of new room names, then 100 join+leave pairs on a room with members.
        await m.send("\n".join(json.dumps({"type": "join", "id": "n%d" % i, "room": "%s-%d" % (hub, i)})
                                for i in range(200)))
        reqs = []
        for i in range(100):
            reqs += [{"type": "join", "id": "j%d" % i, "room": hub}, {"type": "leave", "id": "l%d" % i, "room": hub}]
        await m.send("\n".join(json.dumps(r) for r in reqs))
        answers = {}
        for rid in ["n%d" % i for i in range(200)] + [r["id"] for r in reqs]:
            answers[rid] = await m.wait_seen(pred=lambda o, r=rid: o.get("re") == r)
        elapsed = time.monotonic() - t0
        created = sum(1 for i in range(200) if answers["n%d" % i].get("created"))
        limited = sum(1 for a in answers.values() if a.get("code") == "rate_limited")
        self.assertTrue(all(a["type"] == "ok" or a.get("code") == "rate_limited" for a in answers.values()))
        await asyncio.sleep(0.3)
        events = 0
        try:
            while True:
                obj = await watchers[0].recv(0.2)
                events += obj.get("type") == "member" and obj.get("user") == mallory.user
        except asyncio.TimeoutError:
            pass
        allowed = 20 + int(elapsed) + 1
        figure("200 joins of new rooms + 100 join/leave pairs in %.2f s: %d rooms created, %d member events to each "
               "member, %d refused (room-burst 20, room-rate 1/s)" % (elapsed, created, events, limited))
        self.assertLessEqual(created, allowed)
        self.assertLessEqual(events, allowed)
        self.assertEqual(len(answers) - limited, created + sum(1 for r in reqs if answers[r["id"]]["type"] == "ok"))


def post_from(source, srv, path, body):
    """POST JSON from a given local address; returns (status, headers, parsed body)."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=harness.T_ANSWER, source_address=(source, 0))
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r, json.loads(r.read() or b"{}")
    finally:
        conn.close()


class LoginThrottleTest(harness.AsyncChatdTestCase):
    async def test_guessing_is_slow_and_the_owner_elsewhere_gets_in_during_a_flood(self):
        srv = self.start_server()
        victim = srv.new_user("victim")
        # The attacker: 100 connections from 127.0.0.2, each pipelining 3 wrong hellos.
        attackers = []
        t0 = time.monotonic()
        for i in range(100):
            c = harness.RawWs.for_server(srv, source="127.0.0.2")
            self.addCleanup(c.close)
            c.connect()
            c.send_text("\n".join(json.dumps({"type": "hello", "id": "g%d" % n, "user": victim.user,
                                               "password": "guess-%d-%d" % (i, n)}) for n in range(3)))
            attackers.append(c)
        # The owner, from another address, during the flood.
        t1 = time.monotonic()
        ws = await self.connect(srv, source="127.0.0.3")
        answer = await ws.hello(user=victim.user, password=victim.password)
        owner_ms = (time.monotonic() - t1) * 1000
        self.assertEqual(answer["type"], "welcome", answer)
        # What the attacker got: each hello checked (unauthorized) or refused unchecked.
        checked = refused = 0
        for c in attackers:
            try:
                code, frames = c.read_close(wait=harness.timeout(20))
            except OSError:
                continue
            for f in frames:
                if f.opcode != harness.OP_TEXT:
                    continue
                for line in f.payload.decode().split("\n"):
                    obj = json.loads(line)
                    checked += obj.get("code") == "unauthorized"
                    refused += obj.get("code") == "rate_limited"
        elapsed = time.monotonic() - t0
        figure("300 wrong hellos from one address in %.1f s: %d checked, %d refused unchecked; "
               "the owner from another address logged in in %.0f ms" % (elapsed, checked, refused, owner_ms))
        self.assertGreater(refused, 0)
        self.assertLessEqual(checked, 20, "guessing must be throttled (10 free failures per address, then waits)")
        self.assertLess(owner_ms, harness.timeout(3) * 1000)

    async def test_http_login_from_a_guessing_address_gets_429_with_retry_after(self):
        srv = self.start_server()
        victim = srv.new_user("victim")
        statuses = []
        for n in range(15):
            status, r, body = post_from("127.0.0.4", srv, "/api/login", {"user": victim.user, "password": "no-%d" % n})
            statuses.append(status)
            if status == 429:
                self.assertGreaterEqual(int(r.getheader("Retry-After")), 1)
                self.assertEqual(body["error"]["code"], "rate_limited")
        self.assertEqual(statuses[:3], [401, 401, 401])
        self.assertIn(429, statuses)
        # The right password from the same address waits too; from another address it works.
        status, _, _ = post_from("127.0.0.4", srv, "/api/login", {"user": victim.user, "password": victim.password})
        self.assertEqual(status, 429)
        status, _, body = post_from("127.0.0.5", srv, "/api/login", {"user": victim.user, "password": victim.password})
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    harness.main()
