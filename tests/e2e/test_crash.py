# SPDX-License-Identifier: MIT
"""Crash safety: senders that resend until acked, recipients that ack as they go, and the
server killed with SIGKILL at random moments and restarted on the same data dir. Nothing that
was answered ok may be lost, and nothing may be stored or delivered (after dedupe by mid) twice.

The random schedule is printed with its seed; CHATD_E2E_SEED=<seed> repeats it."""
import asyncio
import collections
import os
import random
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import websockets  # noqa: E402

SENDERS = 4          # each sends to one of two recipients
RECIPIENTS = 2
PER_SENDER = 150     # messages per sender
KILLS = 5
KILL_GAP = (0.2, 1.5)  # seconds between a restart and the next kill
# A kill comes at the end of its gap, right after (0-4 ms) a sender has written a burst of
# sends, so that some are committed and unanswered, some not even read (at most KILL_WAIT later).
KILL_WAIT = 0.5
PACE = (0.03, 0.15)    # a sender's pause after each burst of oks: about as long as the kills take
WHOLE_TEST = 60        # seconds, the bound for the whole scenario (stretched for slow builds)

# Everything that means "this connection is gone": reconnect (to the current server) and resend.
DROPS = (harness.Closed, websockets.WebSocketException, OSError, asyncio.TimeoutError, EOFError)


class Cluster:
    """The one running chatd (replaced after each kill) and where clients find it."""

    def __init__(self, test, data_dir, args):
        self.test, self.data_dir, self.args = test, data_dir, args
        self.srv = None
        self.url = None       # None while no server is up: clients wait
        self.generation = 0
        self.kills = 0

    async def start(self):
        srv = self.test.make_server(*self.args, data_dir=self.data_dir)
        await asyncio.to_thread(srv.start)  # the clients keep running meanwhile
        self.srv = srv
        self.url = srv.ws_url
        self.generation += 1

    def check_alive(self):
        """Fails at once if the current server has exited although nobody killed it."""
        srv = self.srv
        if self.url is not None and srv.proc.poll() is not None:
            raise AssertionError("chatd (generation %d, after %d kills) exited by itself with %s; its stderr:\n%s"
                                 % (self.generation, self.kills, srv.proc.returncode, srv.log()[-6000:]))

    async def kill(self):
        self.url = None
        srv = self.srv
        srv.send_signal(signal.SIGKILL)  # now, not when a thread gets to it
        await asyncio.to_thread(srv.stop, signal.SIGKILL)
        if srv.returncode != -signal.SIGKILL:
            raise AssertionError("chatd had already exited with %s before the kill" % srv.returncode)
        self.kills += 1


class CrashTest(harness.AsyncChatdTestCase):
    async def test_kill_9_under_load_loses_nothing_and_stores_nothing_twice(self):
        seed = int(os.environ.get("CHATD_E2E_SEED") or random.randrange(1 << 31))
        rng = random.Random(seed)
        started = time.monotonic()
        data_dir = self.temp_data_dir()
        cluster = Cluster(self, data_dir, ("--rate", 100000, "--burst", 100000))
        await cluster.start()
        first = cluster.srv
        senders = [first.new_user("snd") for _ in range(SENDERS)]
        recipients = [first.new_user("rcv") for _ in range(RECIPIENTS)]
        target = {i: recipients[i % RECIPIENTS] for i in range(SENDERS)}

        oks = collections.defaultdict(list)        # (sender index, k) -> [(mid, dup)]
        deliveries = [[] for _ in range(RECIPIENTS)]  # every message object, as received
        problems = []                               # errors the protocol does not allow here
        figures = collections.Counter()
        stop_recipients = asyncio.Event()
        senders_running = set(range(SENDERS))
        unanswered = {}  # sender index -> its list of sends without an answer
        burst_sent = asyncio.Event()

        def kills_needed(k):
            """Kills that must have happened before message k is sent: the senders do not run
            far ahead of the kills, and the last sixth waits for the last kill."""
            seg = k * (KILLS + 1) // PER_SENDER
            return KILLS if seg >= KILLS else max(0, seg - 1)
        deadline = started + harness.timeout(WHOLE_TEST) - 10

        def cid(i, k):
            return "s%d-%d" % (i, k)

        async def connect():
            """A connection to the current server, or None (after a short pause)."""
            url = cluster.url
            if url is None:
                await asyncio.sleep(0.02)
                return None
            try:
                return await harness.Ws.connect(url, wait=harness.timeout(5))
            except DROPS:
                figures["failed connects"] += 1
                cluster.check_alive()
                await asyncio.sleep(0.02)
                return None

        async def hello(ws, acct):
            """hello by token; True once the welcome came (objects after it stay pending)."""
            await ws.send({"type": "hello", "id": "hello", "token": acct.token})
            answer = await ws.wait_for(re="hello", wait=harness.T_ANSWER)
            if answer.get("type") == "welcome":
                return True
            if answer.get("code") != "unavailable":
                problems.append(("hello of %s" % acct.user, answer))
            return False

        async def drop(ws):
            if ws is not None:
                await ws.close()
            return None

        async def sender(i):
            acct, to = senders[i], target[i].user
            unacked = []  # ks sent (on some connection) and not answered ok, in order
            unanswered[i] = unacked
            k = 0
            ws = None
            try:
                while k < PER_SENDER or unacked:
                    if time.monotonic() > deadline:
                        raise AssertionError("sender %d not done in time: %d sent, %d unacked" % (i, k, len(unacked)))
                    try:
                        if ws is None:
                            ws = await connect()
                            if ws is None:
                                continue
                            if not await hello(ws, acct):
                                ws = await drop(ws)
                                continue
                            await ws.wait_for("live")
                            for kk in unacked:  # resend, same cid
                                figures["resends"] += 1
                                await ws.send({"type": "send", "id": cid(i, kk), "cid": cid(i, kk), "to": to,
                                               "text": "crash " + cid(i, kk)})
                        if k < PER_SENDER and cluster.kills < kills_needed(k):
                            await asyncio.sleep(0.02)  # ahead of the kills: wait for the next one
                            continue
                        burst = [kk for kk in range(k, min(PER_SENDER, k + rng.randint(1, 4)))
                                 if cluster.kills >= kills_needed(kk)]
                        for kk in burst:
                            unacked.append(kk)
                            k = kk + 1
                            await ws.send({"type": "send", "id": cid(i, kk), "cid": cid(i, kk), "to": to,
                                           "text": "crash " + cid(i, kk)})
                        burst_sent.set()
                        while unacked:
                            try:
                                obj = await ws.recv(harness.T_ANSWER)
                            except asyncio.TimeoutError:
                                figures["stalls"] += 1  # a live connection that answers nothing
                                raise
                            re_ = obj.get("re")
                            if not (isinstance(re_, str) and re_.startswith("s%d-" % i)):
                                continue
                            kk = int(re_.split("-")[1])
                            if obj.get("type") == "ok":
                                oks[(i, kk)].append((obj.get("mid"), bool(obj.get("dup"))))
                                if obj.get("dup"):
                                    figures["dup oks"] += 1
                                if kk in unacked:
                                    unacked.remove(kk)
                            elif obj.get("code") == "unavailable":
                                raise OSError("server unavailable")  # reconnect and resend
                            else:
                                problems.append(("send %s" % re_, obj))
                                if kk in unacked:
                                    unacked.remove(kk)
                        await asyncio.sleep(rng.uniform(*PACE))
                    except DROPS:
                        ws = await drop(ws)
            finally:
                senders_running.discard(i)
                await drop(ws)

        async def recipient(j):
            acct = recipients[j]
            while not stop_recipients.is_set():
                ws = await connect()
                if ws is None:
                    continue
                try:
                    if not await hello(ws, acct):
                        continue
                    figures["recipient logins"] += 1
                    acked = high = 0
                    while not stop_recipients.is_set():
                        try:
                            obj = await ws.recv(0.2)
                        except asyncio.TimeoutError:
                            obj = None
                        if obj is not None and obj.get("type") == "message":
                            deliveries[j].append(obj)
                            high = max(high, obj["mid"])
                        if not ws.pending and high > acked:
                            # What a client does: ack the largest mid it has handled.
                            await ws.send({"type": "ack", "upto": high})
                            acked = high
                except DROPS:
                    pass
                finally:
                    await drop(ws)

        async def killer():
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(*KILL_GAP))
                burst_sent.clear()
                try:
                    await asyncio.wait_for(burst_sent.wait(), KILL_WAIT)
                    await asyncio.sleep(rng.uniform(0, 0.004))
                except asyncio.TimeoutError:
                    pass
                if senders_running:
                    figures["kills during traffic"] += 1
                in_flight = sum(len(u) for u in unanswered.values())
                if in_flight:
                    figures["kills with sends in flight"] += 1
                    figures["sends in flight at kills"] += in_flight
                await cluster.kill()
                await cluster.start()

        rtasks = [asyncio.ensure_future(recipient(j)) for j in range(RECIPIENTS)]
        try:
            await asyncio.wait_for(asyncio.gather(killer(), *(sender(i) for i in range(SENDERS))),
                                   max(1.0, deadline - time.monotonic()))
        finally:
            stop_recipients.set()
            await asyncio.wait_for(asyncio.gather(*rtasks, return_exceptions=True), harness.T_ANSWER)
        for t in rtasks:
            if t.exception() is not None:
                raise t.exception()

        # Collect everything: a hello without cursor (what is still undelivered), then a replay
        # from cursor 0 (every message of the recipient's conversations).
        srv = cluster.srv
        replays = []
        for j, acct in enumerate(recipients):
            ws = await self.connect(srv)
            _, msgs, _ = await ws.catch_up(token=acct.token)
            deliveries[j].extend(msgs)
            figures["final pool"] += len(msgs)
            high = max([m["mid"] for m in deliveries[j]] or [0])
            self.assertEqual((await ws.request({"type": "ack", "upto": high})).get("type"), "ok")
            await ws.close()
            ws = await self.connect(srv)
            _, msgs, _ = await ws.catch_up(token=acct.token, cursor=0)
            replays.append(msgs)
            await ws.close()
            ws = await self.connect(srv)
            _, msgs, _ = await ws.catch_up(token=acct.token)
            self.assertEqual(msgs, [], "%s: messages still undelivered after acking everything" % acct.user)
            await ws.close()

        # The figures.
        okd = {}  # (i, k) -> mid
        for key, answers in oks.items():
            mids = {m for m, _ in answers}
            if len(mids) != 1:
                problems.append(("cid %s answered with different mids" % cid(*key), answers))
            okd[key] = answers[0][0]
        by_mid = {mid: key for key, mid in okd.items()}
        acked = len(okd)
        total = sum(len(d) for d in deliveries)
        unique = set()
        wrong = []
        for j, got in enumerate(deliveries):
            for m in got:
                key = by_mid.get(m.get("mid"))
                expect = None if key is None else (senders[key[0]].user, target[key[0]].user, "crash " + cid(*key))
                if expect != (m.get("from"), m.get("to"), m.get("text")) or target[key[0]] is not recipients[j]:
                    wrong.append((recipients[j].user, m, expect))
                else:
                    unique.add(m["mid"])
        lost = sorted(set(okd.values()) - unique)
        line = ("crash figures: acked=%d delivered=%d lost=%d duplicates-before-dedupe=%d kills=%d "
                "(during traffic %d, %d with %d sends in flight; resends %d, dup oks %d, stalls %d, final pool %d; %.1f s; seed %d)"
                % (acked, len(unique), len(lost), total - len(unique), cluster.kills, figures["kills during traffic"],
                   figures["kills with sends in flight"],
                   figures["sends in flight at kills"], figures["resends"], figures["dup oks"], figures["stalls"], figures["final pool"],
                   time.monotonic() - started, seed))
        print("\n" + line, file=sys.stderr, flush=True)

        self.assertEqual(problems, [], line)
        self.assertEqual(cluster.kills, KILLS)
        self.assertEqual(acked, SENDERS * PER_SENDER, "every message was answered ok in the end")
        self.assertEqual(len(set(okd.values())), acked, "two cids answered with the same mid")
        self.assertEqual(wrong, [], "messages delivered to the wrong user, unknown, or altered")
        self.assertEqual(lost, [], "acked messages never delivered; " + line)
        for j, replay in enumerate(replays):
            with self.subTest(replay=recipients[j].user):
                mids = [m["mid"] for m in replay]
                expected = sorted(mid for (i, _), mid in okd.items() if target[i] is recipients[j])
                self.assertEqual(mids, expected, "replay from cursor 0: every message once, in order")

        # The database itself: one row per (sender, cid), with the mid the sender was told.
        self.assertEqual(srv.stop(), 0, "graceful stop after the test")
        db = sqlite3.connect(os.path.join(data_dir, "chatd.db"), timeout=harness.T_ANSWER)
        self.addCleanup(db.close)
        twice = db.execute("select sender_id, cid, count(*) from messages group by 1, 2 having count(*) > 1").fetchall()
        self.assertEqual(twice, [], "a (sender, cid) stored twice")
        names = {a.user: n for n, a in enumerate(senders)}
        stored = {}
        for name, c, mid in db.execute("select u.name, m.cid, m.mid from messages m join users u on u.id = m.sender_id"):
            stored[(names[name], int(c.split("-")[1]))] = mid
        self.assertEqual(stored, okd, "the stored (sender, cid) -> mid differs from what the senders were told")
        self.assertLess(time.monotonic() - started, harness.timeout(WHOLE_TEST), "the test took too long")


class UnfoldedMarksTest(harness.AsyncChatdTestCase):
    """An ack and a read marker are answered once their marks row is committed; the fold that
    applies them to the pool comes up to 200 ms later (docs/storage.md). Killed in between, the
    server reads the marks back at start: nothing acked is sent again, the unread count holds."""

    async def test_kill_9_before_the_fold_keeps_acks_and_read_markers(self):
        data_dir = self.temp_data_dir()
        srv = self.start_server("--rate", 100000, "--burst", 100000, data_dir=data_dir)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        mids = []
        for n in range(5):
            ok = await a.request({"type": "send", "cid": "m%d" % n, "to": bob.user, "text": "m%d" % n})
            self.assertEqual(ok["type"], "ok", ok)
            mids.append(ok["mid"])
        b = await self.connect(srv)
        _, got, _ = await b.catch_up(token=bob.token)
        self.assertEqual([m["mid"] for m in got], mids)
        # Both without an id: no answer is awaited, and the kill follows at once.
        await b.send({"type": "read", "with": alice.user, "upto": mids[1]})
        ack = await b.request({"type": "ack", "upto": mids[2]})
        self.assertEqual(ack["type"], "ok", ack)
        srv.send_signal(signal.SIGKILL)
        srv.stop(signal.SIGKILL)
        db = sqlite3.connect(os.path.join(data_dir, "chatd.db"))
        waiting = db.execute("select count(*) from marks").fetchone()[0]
        acked = db.execute("select acked_upto from users where name = ?", (bob.user,)).fetchone()[0]
        db.close()
        self.assertEqual(waiting, 2, "the kill came after the fold: nothing was tested (acked_upto %d)" % acked)
        self.assertEqual(acked, 0)

        srv = self.start_server("--rate", 100000, "--burst", 100000, data_dir=data_dir)
        b = await self.connect(srv)
        welcome, got, _ = await b.catch_up(token=bob.token)
        self.assertEqual([m["mid"] for m in got], mids[3:], "acked before the kill: not sent again")
        self.assertEqual(welcome.get("unread", {}).get(alice.user), 3, welcome)
        db = sqlite3.connect(os.path.join(data_dir, "chatd.db"), timeout=harness.T_ANSWER)
        self.addCleanup(db.close)
        delivered = db.execute("select count(*) from deliveries d join users u on u.id = d.user_id "
                               "where u.name = ? and delivered_at is not null", (bob.user,)).fetchone()[0]
        read = db.execute("select count(*) from deliveries d join users u on u.id = d.user_id "
                          "where u.name = ? and read_at is not null", (bob.user,)).fetchone()[0]
        self.assertEqual((delivered, read), (3, 2), "the marks read back were folded into the pool")


if __name__ == "__main__":
    harness.main()
