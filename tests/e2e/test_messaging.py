# SPDX-License-Identifier: MIT
"""Messaging end to end: the offline pool and acks (redelivery until acked, partial acks),
several devices of one user, catch-up by cursor, history paging, dedupe across a restart,
`chatd purge --delivered` while the server runs, the sending limits and broadcasts."""
import asyncio
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BIG = ("--rate", 100000, "--burst", 100000)


def new_cid(prefix="c"):
    return "%s-%s" % (prefix, os.urandom(6).hex())


async def send_ok(ws, text, to=None, room=None, cid=None):
    """A send that must be answered ok; returns the ok (with mid)."""
    req = {"type": "send", "cid": cid or new_cid(), "text": text}
    if room is not None:
        req["room"] = room
    else:
        req["to"] = to
    answer = await ws.request(req)
    if answer.get("type") != "ok" or not isinstance(answer.get("mid"), int):
        raise AssertionError("send %r was answered %r" % (req, answer))
    return answer


async def send_many(ws, to, texts, prefix=None):
    """Sends `texts` to `to` pipelined (one frame of requests at a time, 50 per frame) and
    returns the oks in order."""
    prefix = prefix or new_cid("p")
    oks = []
    for start in range(0, len(texts), 50):
        chunk = texts[start:start + 50]
        ids = ["%s-%d" % (prefix, start + i) for i in range(len(chunk))]
        lines = [harness.json.dumps({"type": "send", "id": ids[i], "cid": ids[i], "to": to, "text": t})
                 for i, t in enumerate(chunk)]
        await ws.send("\n".join(lines))
        answers = {}
        deadline = time.monotonic() + harness.T_ANSWER * 3
        while len(answers) < len(ids):
            obj = await ws.recv(max(0.01, deadline - time.monotonic()))
            if obj.get("re") in ids:
                answers[obj["re"]] = obj
        for i in ids:
            if answers[i].get("type") != "ok":
                raise AssertionError("send %s was answered %r" % (i, answers[i]))
            oks.append(answers[i])
    return oks


def message_mids(objs):
    return [o["mid"] for o in objs if o.get("type") in ("message", "notification")]


def stats_numbers(text):
    """{"undelivered": n, "delivered": n, "messages": n} from `chatd stats`."""
    out = {}
    for key, pattern in (("undelivered", r"^undelivered rows:\s+(\d+)"), ("delivered", r"^delivered rows:\s+(\d+)"),
                         ("messages", r"^messages:\s+(\d+)")):
        m = re.search(pattern, text, re.M)
        if not m:
            raise AssertionError("no %r in `chatd stats` output:\n%s" % (key, text))
        out[key] = int(m.group(1))
    return out


class OfflinePoolTest(harness.AsyncChatdTestCase):
    """The offline pool: undelivered messages come on the next hello until acked."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server(*BIG)

    async def five_while_away(self):
        alice, bob = self.srv.new_user("alice"), self.srv.new_user("bob")
        a = await self.logged_in(self.srv, alice)
        texts = ["away %d \u00e9" % i for i in range(5)]
        oks = [await send_ok(a, t, to=bob.user) for t in texts]
        mids = [o["mid"] for o in oks]
        self.assertEqual(mids, sorted(mids), "mids must increase")
        self.assertEqual(len(set(mids)), 5)
        return alice, bob, texts, mids

    async def catch_up(self, acct, **fields):
        ws = await self.connect(self.srv)
        welcome, msgs, live = await ws.catch_up(token=acct.token, **fields)
        return ws, welcome, msgs, live

    async def test_offline_messages_arrive_on_login_in_order_before_live(self):
        alice, bob, texts, mids = await self.five_while_away()
        b, welcome, msgs, live = await self.catch_up(bob)
        self.assertEqual(welcome.get("user"), bob.user)
        self.assertEqual([m["mid"] for m in msgs], mids, b.seen)
        self.assertEqual([m.get("text") for m in msgs], texts)
        for m in msgs:
            self.assertEqual((m.get("type"), m.get("from"), m.get("to")), ("message", alice.user, bob.user), m)
            self.assertIsInstance(m.get("ts"), int, m)
        self.assertGreaterEqual(live.get("mid"), mids[-1], live)
        # Nothing else is a message on this connection (no copy after live either).
        await b.request({"type": "ping"})
        self.assertEqual(message_mids(b.seen), mids)

    async def test_unacked_messages_come_again(self):
        _, bob, _, mids = await self.five_while_away()
        b, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual([m["mid"] for m in msgs], mids)
        await b.close()  # dropped without an ack
        b2, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual([m["mid"] for m in msgs], mids, "the same five again, in order")
        await b2.close()
        _, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual([m["mid"] for m in msgs], mids, "and again")

    async def test_acked_messages_do_not_come_again(self):
        alice, bob, _, mids = await self.five_while_away()
        b, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual([m["mid"] for m in msgs], mids)
        answer = await b.request({"type": "ack", "upto": mids[-1]})
        self.assertEqual(answer.get("type"), "ok", answer)
        await b.close()
        b2, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual(msgs, [], "acked messages were sent again")
        # A message after the ack is the only one on the next login.
        a = await self.logged_in(self.srv, alice)
        later = await send_ok(a, "after the ack", to=bob.user)
        await b2.wait_seen("message", pred=lambda m: m.get("mid") == later["mid"])
        await b2.close()
        _, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual([m["mid"] for m in msgs], [later["mid"]])

    async def test_partial_ack_redelivers_the_rest(self):
        _, bob, texts, mids = await self.five_while_away()
        b, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual([m["mid"] for m in msgs], mids)
        answer = await b.request({"type": "ack", "upto": mids[2]})
        self.assertEqual(answer.get("type"), "ok", answer)
        await b.close()
        b2, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual([m["mid"] for m in msgs], mids[3:])
        self.assertEqual([m["text"] for m in msgs], texts[3:])
        # An ack is a high-water mark: a lower one later does not bring anything back.
        answer = await b2.request({"type": "ack", "upto": mids[0]})
        self.assertEqual(answer.get("type"), "ok", answer)
        await b2.close()
        _, _, msgs, _ = await self.catch_up(bob)
        self.assertEqual([m["mid"] for m in msgs], mids[3:])

    async def test_ack_without_id_is_silent_and_still_counts(self):
        _, bob, _, mids = await self.five_while_away()
        b, _, _, _ = await self.catch_up(bob)
        start = len(b.seen)
        await b.send({"type": "ack", "upto": mids[-1]})
        await b.request({"type": "ping", "id": "after-ack"})
        between = [o for o in b.seen[start:] if o.get("re") != "after-ack"]
        self.assertEqual(between, [], "an ack without id was answered")
        await b.close()
        # The ack is processed in order with later requests; give its commit a bounded time.
        deadline = time.monotonic() + harness.T_ANSWER
        while True:
            ws, _, msgs, _ = await self.catch_up(bob)
            if msgs == [] or time.monotonic() > deadline:
                break
            await ws.close()
            await asyncio.sleep(0.1)
        self.assertEqual(msgs, [])


class DevicesTest(harness.AsyncChatdTestCase):
    """Several devices of one user: every live message on every device; a cursor gets the gap."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server(*BIG)

    async def test_two_devices_get_every_message_and_the_senders_other_device_too(self):
        alice, bob = self.srv.new_user("alice"), self.srv.new_user("bob")
        a1 = await self.logged_in(self.srv, alice, device="a-phone")
        a2 = await self.logged_in(self.srv, alice, device="a-laptop")
        b1 = await self.logged_in(self.srv, bob, device="b-phone")
        b2 = await self.logged_in(self.srv, bob, device="b-laptop")
        sent = []  # (sending ws, ok)
        for i in range(6):
            sender, to = ((a1, bob.user), (b1, alice.user), (a2, bob.user))[i % 3]
            sent.append((sender, await send_ok(sender, "m%d" % i, to=to)))
        for ws in (a1, a2, b1, b2):
            last = [ok["mid"] for sender, ok in sent if sender is not ws][-1]
            await ws.wait_seen("message", pred=lambda m: m.get("mid") == last)
        # Give a late duplicate the chance to show: one request round trip on each.
        for ws in (a1, a2, b1, b2):
            await ws.request({"type": "ping"})
        for ws, name in ((a1, "a1"), (a2, "a2"), (b1, "b1"), (b2, "b2")):
            with self.subTest(device=name):
                # Every message once, in order, except those the device sent itself (it has the ok).
                expected = [ok["mid"] for sender, ok in sent if sender is not ws]
                self.assertEqual(message_mids(ws.seen), expected, ws.seen)
        texts = {m["mid"]: (m["from"], m["to"], m["text"]) for m in b2.seen if m.get("type") == "message"}
        self.assertEqual(texts[sent[0][1]["mid"]], (alice.user, bob.user, "m0"))
        self.assertEqual(texts[sent[1][1]["mid"]], (bob.user, alice.user, "m1"))

    async def test_device_with_a_cursor_gets_exactly_the_gap(self):
        alice, bob, carol = self.srv.new_user("alice"), self.srv.new_user("bob"), self.srv.new_user("carol")
        a1 = await self.logged_in(self.srv, alice, device="one")
        b = await self.logged_in(self.srv, bob)
        c = await self.logged_in(self.srv, carol)
        before = [await send_ok(a1, "before %d" % i, to=bob.user) for i in range(3)]
        before.append(await send_ok(b, "before 3", to=alice.user))
        cursor = before[-1]["mid"]
        # The gap: both directions, two conversations, some sent by alice herself from device one.
        gap = []
        for i in range(8):
            sender, to = ((a1, bob.user), (b, alice.user), (c, alice.user), (a1, carol.user))[i % 4]
            gap.append(await send_ok(sender, "gap %d" % i, to=to))
        # Not alice's: must not be in her catch-up.
        await send_ok(b, "not for alice", to=carol.user)
        a3 = await self.connect(self.srv)
        welcome, msgs, live = await a3.catch_up(token=alice.token, device="three", cursor=cursor)
        got = [m["mid"] for m in msgs]
        self.assertEqual(got, [o["mid"] for o in gap], a3.seen)
        self.assertEqual([m["text"] for m in msgs], ["gap %d" % i for i in range(8)])
        self.assertIn(alice.user, {m["from"] for m in msgs}, "her own messages are part of the gap")
        self.assertGreaterEqual(live.get("mid"), got[-1])
        # The cursor of the last one: an empty gap.
        a4 = await self.connect(self.srv)
        _, msgs, _ = await a4.catch_up(token=alice.token, device="four", cursor=gap[-1]["mid"])
        self.assertEqual(msgs, [])
        # After live, device three gets new messages live, once.
        new = await send_ok(b, "live now", to=alice.user)
        await a3.wait_seen("message", pred=lambda m: m.get("mid") == new["mid"])
        await a3.request({"type": "ping"})
        self.assertEqual(message_mids(a3.seen), got + [new["mid"]])


class HistoryPagingTest(harness.AsyncChatdTestCase):
    async def test_paging_back_over_520_messages(self):
        srv = self.start_server(*BIG)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        b = await self.logged_in(srv, bob)
        n = 520
        oks, texts = [], []
        # Both directions, in rounds, so the conversation interleaves.
        for r in range(0, n, 130):
            for ws, peer, tag in ((a, bob.user, "a->b"), (b, alice.user, "b->a")):
                chunk = ["%s %d" % (tag, i) for i in range(r, r + 65)]
                oks += await send_many(ws, peer, chunk)
                texts += chunk
        okd = [o["mid"] for o in oks]
        self.assertEqual(len(set(okd)), n)
        for viewer, peer in ((a, bob.user), (b, alice.user)):
            with self.subTest(viewer=peer):
                pages = []
                before = None
                for _ in range(n // 50 + 5):  # bounded: a few pages more than needed
                    req = {"type": "history", "with": peer, "limit": 50}
                    if before is not None:
                        req["before"] = before
                    page = await viewer.request(req)
                    self.assertEqual(page.get("type"), "ok", page)
                    mids = [m["mid"] for m in page["messages"]]
                    self.assertLessEqual(len(mids), 50)
                    self.assertEqual(mids, sorted(set(mids)), "a page is oldest first, no repeats")
                    if before is not None:
                        self.assertTrue(all(m < before for m in mids), (before, mids))
                    pages.append(mids)
                    if not page.get("more"):
                        break
                    self.assertTrue(mids, "more=true with an empty page")
                    before = mids[0]
                else:
                    self.fail("more was still true after %d pages" % len(pages))
                every = [m for p in reversed(pages) for m in p]
                self.assertEqual(len(every), len(set(every)), "a mid on two pages")
                self.assertEqual(every, sorted(every))
                self.assertEqual(set(every), set(okd))
                self.assertTrue(all(len(p) == 50 for p in pages[:-1]), [len(p) for p in pages])
        # The newest page is the last sends, text and all.
        page = await a.request({"type": "history", "with": bob.user, "limit": 3})
        self.assertEqual([m["mid"] for m in page["messages"]], okd[-3:])
        self.assertEqual([m["text"] for m in page["messages"]], texts[-3:])
        self.assertTrue(page.get("more"))


class RestartTest(harness.AsyncChatdTestCase):
    async def test_resent_cid_keeps_its_mid_across_restarts(self):
        data_dir = self.temp_data_dir()
        srv = self.start_server(*BIG, data_dir=data_dir)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        cid = new_cid("keep")
        first = await send_ok(a, "only once", to=bob.user, cid=cid)
        self.assertNotIn("dup", first)
        again = await send_ok(a, "only once", to=bob.user, cid=cid)
        self.assertEqual((again["mid"], again.get("dup")), (first["mid"], True), again)
        await a.close()
        self.assertEqual(srv.stop(), 0, "graceful stop")
        srv.close()
        for how in ("after SIGTERM", "after kill -9"):
            with self.subTest(how):
                srv = self.start_server(*BIG, data_dir=data_dir)
                a = await self.logged_in(srv, alice)
                again = await send_ok(a, "only once", to=bob.user, cid=cid)
                self.assertEqual((again["mid"], again.get("dup")), (first["mid"], True), again)
                # A new cid still gets a new, larger mid.
                other = await send_ok(a, "another %s" % how, to=bob.user)
                self.assertGreater(other["mid"], first["mid"])
                self.assertFalse(other.get("dup", False), other)
                await a.close()
                srv.stop(sig=signal.SIGTERM if how == "after SIGTERM" else signal.SIGKILL)
                srv.close()
        srv = self.start_server(*BIG, data_dir=data_dir)
        b = await self.connect(srv)
        _, msgs, _ = await b.catch_up(token=bob.token)
        got = [m["mid"] for m in msgs]
        self.assertEqual(got.count(first["mid"]), 1, b.seen)
        self.assertEqual(len(got), 3, "the message once and the two others")
        self.assertEqual(got, sorted(got))
        # Catch-up by cursor and history agree: the message is stored once.
        b2 = await self.connect(srv)
        _, msgs, _ = await b2.catch_up(token=bob.token, cursor=0)
        self.assertEqual([m["mid"] for m in msgs], got)
        history = await b2.request({"type": "history", "with": alice.user})
        self.assertEqual([m["mid"] for m in history["messages"]], got, history)
        self.assertEqual([m["text"] for m in history["messages"]][0], "only once")


class PurgeTest(harness.AsyncChatdTestCase):
    def chatd(self, srv, *args):
        p = harness.run_chatd(list(args) + ["--data-dir", srv.data_dir])
        self.assertEqual(p.returncode, 0, p)
        return p.stdout

    async def test_purge_while_running_removes_only_delivered_rows(self):
        srv = self.start_server(*BIG)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        mids = [(await send_ok(a, "pool %d" % i, to=bob.user))["mid"] for i in range(6)]
        self.assertEqual(stats_numbers(self.chatd(srv, "stats")),
                         {"undelivered": 6, "delivered": 0, "messages": 6})
        b = await self.connect(srv)
        _, msgs, _ = await b.catch_up(token=bob.token)
        self.assertEqual([m["mid"] for m in msgs], mids)
        self.assertEqual((await b.request({"type": "ack", "upto": mids[2]})).get("type"), "ok")
        await b.close()
        # The admin command reads SQLite's tables; an ack reaches them with the storage
        # thread's next fold of the pool, within about a second.
        want = {"undelivered": 3, "delivered": 3, "messages": 6}
        deadline = time.monotonic() + 5
        before = stats_numbers(self.chatd(srv, "stats"))
        while before != want and time.monotonic() < deadline:
            time.sleep(0.2)
            before = stats_numbers(self.chatd(srv, "stats"))
        self.assertEqual(before, want)
        time.sleep(0.05)  # the cutoff is "now": let the clock pass the messages' time
        out = self.chatd(srv, "purge", "--delivered", "--dry-run")
        self.assertRegex(out, r"would remove 3 delivered pool row\(s\)")
        self.assertEqual(stats_numbers(self.chatd(srv, "stats")), before, "a dry run changed something")
        # An age limit no message reaches: nothing goes.
        out = self.chatd(srv, "purge", "--delivered", "--older-than", "30d")
        self.assertRegex(out, r"removed 0 delivered pool row\(s\)")
        out = self.chatd(srv, "purge", "--delivered")
        self.assertRegex(out, r"removed 3 delivered pool row\(s\) and 3 message\(s\)")
        after = stats_numbers(self.chatd(srv, "stats"))
        self.assertEqual(after, {"undelivered": 3, "delivered": 0, "messages": 3})
        # The running server still delivers the unacked ones, and only those.
        b = await self.connect(srv)
        _, msgs, _ = await b.catch_up(token=bob.token)
        self.assertEqual([m["mid"] for m in msgs], mids[3:])
        self.assertEqual([m["text"] for m in msgs], ["pool 3", "pool 4", "pool 5"])
        # And it keeps working: a new message gets a mid above every purged one.
        new = await send_ok(a, "after purge", to=bob.user)
        self.assertGreater(new["mid"], mids[-1])
        await b.wait_seen("message", pred=lambda m: m.get("mid") == new["mid"])
        # A second purge has nothing delivered to remove.
        out = self.chatd(srv, "purge", "--delivered")
        self.assertRegex(out, r"removed 0 delivered pool row\(s\)")


class LimitsTest(harness.AsyncChatdTestCase):
    async def test_text_over_max_text_is_too_large(self):
        srv = self.start_server("--max-text", 100)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        ok = await send_ok(a, "\u00e9" * 50, to=bob.user)  # 100 bytes of UTF-8: the limit
        for text in ("x" * 101, "\u00e9" * 51):
            answer = await a.request({"type": "send", "cid": new_cid(), "to": bob.user, "text": text})
            self.assertEqual((answer.get("type"), answer.get("code")), ("error", "too_large"), answer)
        b = await self.connect(srv)
        _, msgs, _ = await b.catch_up(token=bob.token)
        self.assertEqual([m["mid"] for m in msgs], [ok["mid"]], "a refused message was stored")

    async def test_rate_limit(self):
        srv = self.start_server("--rate", 2, "--burst", 2)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        b = await self.logged_in(srv, bob)
        # Three at once, in one frame: the burst passes, the third is refused.
        cids = [new_cid("r") for _ in range(3)]
        await a.send("\n".join(harness.json.dumps({"type": "send", "id": c, "cid": c, "to": bob.user, "text": c})
                               for c in cids))
        answers = {}
        while len(answers) < 3:
            obj = await a.recv()
            if obj.get("re") in cids:
                answers[obj["re"]] = obj
        self.assertEqual([answers[c].get("type") for c in cids[:2]], ["ok", "ok"], answers)
        refused = answers[cids[2]]
        self.assertEqual((refused.get("type"), refused.get("code")), ("error", "rate_limited"), refused)
        retry = refused.get("retry_ms")
        self.assertIsInstance(retry, int, refused)
        self.assertGreater(retry, 0)
        self.assertLessEqual(retry, 1000, "one token at 2/s is at most 500 ms away")
        # After the advertised wait, the same cid goes through.
        await asyncio.sleep(retry / 1000.0 + 0.05)
        again = await a.request({"type": "send", "cid": cids[2], "to": bob.user, "text": cids[2]})
        self.assertEqual(again.get("type"), "ok", again)
        self.assertFalse(again.get("dup", False), "the refused send was stored")
        await b.wait_seen("message", pred=lambda m: m.get("mid") == again["mid"])
        self.assertEqual([m["text"] for m in b.seen if m.get("type") == "message"], cids)

    async def test_pool_quota(self):
        srv = self.start_server("--pool-max-messages", 3)
        alice, bob, carol = srv.new_user("alice"), srv.new_user("bob"), srv.new_user("carol")
        a = await self.logged_in(srv, alice)
        mids = [(await send_ok(a, "q%d" % i, to=bob.user))["mid"] for i in range(3)]
        answer = await a.request({"type": "send", "cid": new_cid(), "to": bob.user, "text": "one too many"})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "quota_exceeded"), answer)
        # The quota is bob's: others still reach carol.
        await send_ok(a, "to carol", to=carol.user)
        b = await self.connect(srv)
        _, msgs, _ = await b.catch_up(token=bob.token)
        self.assertEqual([m["mid"] for m in msgs], mids, "the refused message was stored")
        self.assertEqual((await b.request({"type": "ack", "upto": mids[-1]})).get("type"), "ok")
        new = await send_ok(a, "works again", to=bob.user)
        await b.wait_seen("message", pred=lambda m: m.get("mid") == new["mid"])

    async def test_unknown_recipient_is_not_found(self):
        srv = self.start_server()
        alice = srv.new_user("alice")
        a = await self.logged_in(srv, alice)
        for target in ({"to": harness.unique_name("ghost")}, {"room": harness.unique_name("noroom")}):
            req = dict({"type": "send", "cid": new_cid(), "text": "anyone?"}, **target)
            answer = await a.request(req)
            self.assertEqual((answer.get("type"), answer.get("code")), ("error", "not_found"), (req, answer))


class NulCharacterTest(harness.AsyncChatdTestCase):
    async def test_nul_is_kept_in_text_and_refused_in_names_and_cids(self):
        srv = self.start_server()
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a, b = await self.logged_in(srv, alice), await self.logged_in(srv, bob)
        text = "visible\x00hidden"
        ok = await send_ok(a, text, to=bob.user)
        got = await b.wait_for("message", pred=lambda o: o.get("mid") == ok["mid"])
        self.assertEqual(got["text"], text)
        page = await b.request({"type": "history", "with": alice.user})
        self.assertEqual(page["messages"][-1]["text"], text)
        # Two cids that differ only after a NUL are not one cid: both refused, nothing stored.
        for cid in ("same\x00one", "same\x00two"):
            answer = await a.request({"type": "send", "cid": cid, "to": bob.user, "text": "x"})
            self.assertEqual(answer.get("code"), "bad_request", answer)
        # A name with a NUL is not the name before it.
        r = srv.register("nul\x00tail", "password-123")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(srv.register("nul", "password-123").status, 201)
        # A device that catches up gets the text whole too.
        c = await self.connect(srv)
        _, msgs, _ = await c.catch_up(token=bob.token, device="other", cursor=0)
        self.assertEqual([m["text"] for m in msgs], [text])


class BroadcastTest(harness.AsyncChatdTestCase):
    async def test_only_admins_broadcast_and_it_reaches_everyone(self):
        data_dir = self.temp_data_dir()
        boss = harness.unique_name("boss")
        p = harness.run_chatd(["--data-dir", data_dir, "user", "add", boss, "--admin"], input="boss password 1\n")
        self.assertEqual(p.returncode, 0, p)
        srv = self.start_server(data_dir=data_dir)
        alice, online, offline = srv.new_user("alice"), srv.new_user("online"), srv.new_user("offline")
        a = await self.logged_in(srv, alice)
        answer = await a.request({"type": "send", "cid": new_cid(), "to": "*", "text": "hear me"})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "forbidden"), answer)
        r = srv.login(boss, "boss password 1")
        self.assertEqual(r.status, 200, r)
        bws = await self.connect(srv)
        welcome = await bws.login(token=r.json()["token"])
        self.assertIs(welcome.get("admin"), True, welcome)
        o = await self.logged_in(srv, online)
        ok = await send_ok(bws, "announcement", to="*")
        live = await o.wait_for(pred=lambda m: m.get("mid") == ok["mid"])
        self.assertIn(live.get("type"), ("message", "notification"), live)
        self.assertEqual(live.get("text"), "announcement", live)
        # The offline user gets it on login; the refused one was never stored.
        off = await self.connect(srv)
        _, msgs, _ = await off.catch_up(token=offline.token)
        self.assertEqual([m["mid"] for m in msgs], [ok["mid"]], off.seen)
        self.assertEqual(msgs[0].get("text"), "announcement")
        # An account made after the broadcast does not get it.
        late = srv.new_user("late")
        lws = await self.connect(srv)
        _, msgs, _ = await lws.catch_up(token=late.token)
        self.assertEqual(msgs, [])


if __name__ == "__main__":
    harness.main()
