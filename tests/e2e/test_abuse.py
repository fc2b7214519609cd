# SPDX-License-Identifier: MIT
"""What one client can cost the server and the other users: memory held on a connection's
behalf (bounded by its outbound limit), the send rate limit across reconnects, room creation
and membership churn, and password guessing. Each test prints one line of figures."""
import asyncio
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


if __name__ == "__main__":
    harness.main()
