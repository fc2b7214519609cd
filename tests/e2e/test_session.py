# SPDX-License-Identifier: MIT
"""A logged-in session: bad requests do not break the connection, several objects per frame,
ids echoed in `re`, `who` with device counts, `users` (the directory), a message between two users."""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class SessionTest(harness.AsyncChatdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server()

    async def assertWhoWorks(self, ws, why):
        answer = await ws.request({"type": "who"})
        self.assertEqual(answer.get("type"), "ok", (why, answer))
        self.assertIsInstance(answer.get("users"), list, (why, answer))

    async def test_bad_requests_get_bad_request_and_the_connection_stays(self):
        acct = self.srv.new_user("bad")
        ws = await self.logged_in(self.srv, acct)
        bad = {
            "malformed json": '{"type":"who",',
            "not json at all": "hello there",
            "array": '[{"type":"who"}]',
            "number": "42",
            "string": '"who"',
            "null": "null",
            "missing type": '{"id":5}',
            "unknown type": '{"type":"no-such-request"}',
            "type not a string": '{"type":7}',
            "empty type": '{"type":""}',
            "deep nesting": "[" * 5000 + "]" * 5000,
        }
        for why, text in bad.items():
            with self.subTest(why):
                await ws.send(text)
                answer = await ws.recv()  # nothing else is in flight: this is the answer
                self.assertEqual((answer.get("type"), answer.get("code")), ("error", "bad_request"), answer)
                self.assertIsInstance(answer.get("message"), str, answer)
                await self.assertWhoWorks(ws, why)
        self.assertTrue(ws.open)

    async def test_trailing_garbage_after_the_object_is_bad_request(self):
        acct = self.srv.new_user("trail")
        ws = await self.logged_in(self.srv, acct)
        for text in ('{"type":"who"} x', '{"type":"who"}}', '{"type":"who"}{"type":"who"}'):
            with self.subTest(text):
                await ws.send(text)
                answer = await ws.recv()
                self.assertEqual((answer.get("type"), answer.get("code")), ("error", "bad_request"), answer)
                extra = [o for o in ws.pending]
                self.assertEqual(extra, [], "more than one answer to one bad line")
                await self.assertWhoWorks(ws, text)

    async def test_bad_request_before_hello_keeps_the_connection(self):
        acct = self.srv.new_user("badfirst")
        ws = await self.connect(self.srv)
        await ws.send("{nope")
        answer = await ws.wait_for("error")
        self.assertEqual(answer.get("code"), "bad_request", answer)
        welcome = await ws.hello(token=acct.token)
        self.assertEqual(welcome.get("type"), "welcome", welcome)
        await ws.wait_for("live")
        await self.assertWhoWorks(ws, "after hello")

    async def test_error_answers_carry_the_request_id(self):
        acct = self.srv.new_user("reid")
        ws = await self.logged_in(self.srv, acct)
        await ws.send({"type": "no-such-request", "id": 77})
        answer = await ws.wait_for("error")
        self.assertEqual(answer.get("code"), "bad_request", answer)
        self.assertEqual(answer.get("re"), 77, answer)
        # A known type with an invalid field: the error names the request too.
        await ws.send({"type": "send", "id": "s-1", "to": "not a valid name!", "cid": "c", "text": "x"})
        answer = await ws.wait_for("error")
        self.assertEqual((answer.get("code"), answer.get("re")), ("bad_request", "s-1"), answer)

    async def test_ids_are_echoed_as_given(self):
        acct = self.srv.new_user("ids")
        ws = await self.logged_in(self.srv, acct)
        for rid in (1, 0, -3, 9007199254740991, "abc", "", "with \"quotes\" and \\ and \u00e9"):
            await ws.send({"type": "ping", "id": rid})
            answer = await ws.wait_for("ok")
            self.assertIn("re", answer, (rid, answer))
            self.assertEqual(answer["re"], rid, answer)
            self.assertEqual(type(answer["re"]), type(rid), answer)

    async def test_several_objects_in_one_frame(self):
        acct = self.srv.new_user("multi")
        ws = await self.logged_in(self.srv, acct)
        await ws.send('{"type":"ping","id":"a"}\n{"type":"who","id":"b"}\n{"type":"ping","id":"c"}')
        got = {}
        for _ in range(3):
            obj = await ws.recv()
            got[obj.get("re")] = obj
        self.assertEqual(set(got), {"a", "b", "c"}, got)
        self.assertTrue(all(o.get("type") == "ok" for o in got.values()), got)
        self.assertIn("users", got["b"])
        # A bad line among good ones only fails itself.
        await ws.send('{"type":"ping","id":"d"}\n{broken\n{"type":"ping","id":"e"}')
        seen = [await ws.recv() for _ in range(3)]
        self.assertEqual([o.get("re") for o in seen if o.get("type") == "ok"], ["d", "e"], seen)
        self.assertEqual([o.get("code") for o in seen if o.get("type") == "error"], ["bad_request"], seen)

    async def test_who_counts_devices(self):
        srv = self.start_server()  # its own server: only the users of this test are online
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a1 = await self.logged_in(srv, alice, device="phone")
        a2 = await self.logged_in(srv, alice, device="laptop")
        b1 = await self.logged_in(srv, bob)
        for ws in (a1, a2, b1):
            answer = await ws.request({"type": "who"})
            self.assertEqual(answer.get("type"), "ok", answer)
            users = {u["user"]: u.get("devices") for u in answer["users"]}
            self.assertEqual(users, {alice.user: 2, bob.user: 1}, answer)
            if "count" in answer:
                self.assertEqual(answer["count"], 2, answer)
        # One of alice's devices leaves: she is still online, with one device.
        await a2.close()
        users = await self._who_until(b1, lambda u: u.get(alice.user) == 1)
        self.assertEqual(users, {alice.user: 1, bob.user: 1})
        # Her last device leaves: she is gone from the list.
        await a1.close()
        users = await self._who_until(b1, lambda u: alice.user not in u)
        self.assertEqual(users, {bob.user: 1})

    async def _who_until(self, ws, cond):
        """Asks `who` until cond(users) holds (the server learns of a close asynchronously)."""
        deadline = time.monotonic() + harness.T_ANSWER
        while True:
            answer = await ws.request({"type": "who"})
            users = {u["user"]: u.get("devices") for u in answer.get("users", [])}
            if cond(users) or time.monotonic() > deadline:
                return users
            await asyncio.sleep(0.05)

    async def test_a_connection_that_did_not_log_in_is_not_online(self):
        srv = self.start_server()
        acct = srv.new_user("solo")
        await self.connect(srv)  # connected, no hello
        ws = await self.logged_in(srv, acct)
        answer = await ws.request({"type": "who"})
        self.assertEqual([u["user"] for u in answer["users"]], [acct.user], answer)

    async def test_second_hello_on_a_live_connection_is_refused(self):
        acct, other = self.srv.new_user("twice"), self.srv.new_user("twice")
        ws = await self.logged_in(self.srv, acct)
        answer = await ws.hello(token=other.token)
        self.assertEqual(answer.get("type"), "error", answer)
        # Still the first user.
        answer = await ws.request({"type": "send", "cid": "c-1", "to": other.user, "text": "who am i"})
        self.assertEqual(answer.get("type"), "ok", answer)
        peer = await self.logged_in(self.srv, other)
        history = await peer.request({"type": "history", "with": acct.user})
        self.assertEqual([m.get("from") for m in history.get("messages", [])], [acct.user], history)

    async def test_message_reaches_peer_and_senders_other_device(self):
        alice, bob = self.srv.new_user("alice"), self.srv.new_user("bob")
        a1 = await self.logged_in(self.srv, alice, device="one")
        a2 = await self.logged_in(self.srv, alice, device="two")
        b1 = await self.logged_in(self.srv, bob)
        text = "hello \u00e9\u00e8 \U0001F600 \"quoted\"\nsecond line"
        ok = await a1.request({"type": "send", "cid": "c-" + os.urandom(4).hex(), "to": bob.user, "text": text})
        self.assertEqual(ok.get("type"), "ok", ok)
        self.assertIsInstance(ok.get("mid"), int)
        self.assertGreater(ok["mid"], 0)
        for ws in (b1, a2):
            msg = await ws.wait_for("message", pred=lambda m: m.get("mid") == ok["mid"])
            self.assertEqual((msg.get("from"), msg.get("to"), msg.get("text")), (alice.user, bob.user, text), msg)

    async def test_same_cid_is_not_sent_twice(self):
        alice, bob = self.srv.new_user("alice"), self.srv.new_user("bob")
        a = await self.logged_in(self.srv, alice)
        b = await self.logged_in(self.srv, bob)
        cid = "c-" + os.urandom(6).hex()
        first = await a.request({"type": "send", "cid": cid, "to": bob.user, "text": "once"})
        again = await a.request({"type": "send", "cid": cid, "to": bob.user, "text": "once"})
        self.assertEqual(first.get("type"), "ok", first)
        self.assertEqual(again.get("mid"), first.get("mid"), again)
        self.assertIs(again.get("dup"), True, again)
        # A later message arrives; the duplicate never did.
        later = await a.request({"type": "send", "cid": cid + "-2", "to": bob.user, "text": "twice"})
        self.assertGreater(later["mid"], first["mid"])
        await b.wait_for("message", pred=lambda m: m.get("mid") == later["mid"])
        mids = [o.get("mid") for o in b.seen if o.get("type") == "message"]
        self.assertEqual(mids, [first["mid"], later["mid"]], b.seen)

    async def test_offline_messages_come_between_welcome_and_live_until_acked(self):
        alice, bob = self.srv.new_user("alice"), self.srv.new_user("bob")
        a = await self.logged_in(self.srv, alice)
        mids = []
        for i in range(3):
            ok = await a.request({"type": "send", "cid": "off-%d" % i, "to": bob.user, "text": "while away %d" % i})
            self.assertEqual(ok.get("type"), "ok", ok)
            mids.append(ok["mid"])

        async def catch_up():
            b = await self.connect(self.srv)
            await b.login(token=bob.token)
            kinds = [o.get("type") for o in b.seen]
            got = [o for o in b.seen if o.get("type") == "message"]
            return b, kinds, got

        b, kinds, got = await catch_up()
        self.assertEqual(kinds[0], "welcome")
        self.assertEqual(kinds[-1], "live")
        self.assertEqual([m["mid"] for m in got], mids, b.seen)  # oldest first
        self.assertEqual([m["text"] for m in got], ["while away %d" % i for i in range(3)])
        self.assertTrue(all(m.get("from") == alice.user for m in got), got)
        self.assertGreaterEqual(b.seen[-1].get("mid"), mids[-1])
        await b.close()
        # Not acked: sent again on the next hello.
        b, _, got = await catch_up()
        self.assertEqual([m["mid"] for m in got], mids)
        # Acked up to the second: only the third comes again.
        await b.send({"type": "ack", "upto": mids[1]})
        self.assertEqual((await b.request({"type": "ping"})).get("type"), "ok")
        await b.close()
        b, _, got = await catch_up()
        self.assertEqual([m["mid"] for m in got], mids[2:])

    async def test_users_finds_offline_users_by_prefix_with_their_presence(self):
        stem = "dir" + os.urandom(3).hex()
        on = self.srv.new_user(stem + "a")
        off = self.srv.new_user(stem + "b")
        ws = await self.logged_in(self.srv, on)
        answer = await ws.request({"type": "users", "q": stem.upper()})
        self.assertEqual(answer.get("type"), "ok", answer)
        self.assertEqual(answer["users"], [{"user": on.user, "online": True}, {"user": off.user, "online": False}])
        self.assertIs(answer["more"], False)
        page = await ws.request({"type": "users", "q": stem, "limit": 1})
        self.assertEqual((page["users"], page["more"]), ([{"user": on.user, "online": True}], True))
        # A user found while offline can be written to: the message waits in the pool.
        ok = await ws.request({"type": "send", "cid": "d1", "to": off.user, "text": "found you"})
        self.assertEqual(ok.get("type"), "ok", ok)
        bad = await ws.request({"type": "users", "limit": 500})
        self.assertEqual(bad.get("code"), "bad_request", bad)

    async def test_conversations_lists_partners_and_rooms_newest_first(self):
        me = self.srv.new_user("cl")
        peer = self.srv.new_user("cp")
        ws = await self.logged_in(self.srv, me)
        room = "cl" + os.urandom(3).hex()
        self.assertEqual((await ws.request({"type": "join", "room": room})).get("type"), "ok")
        sent = await ws.request({"type": "send", "cid": "c1", "to": peer.user, "text": "<b>newest</b>"})
        answer = await ws.request({"type": "conversations"})
        self.assertEqual(answer.get("type"), "ok", answer)
        convs = answer["conversations"]
        self.assertEqual(convs[0]["with"], peer.user)
        self.assertEqual((convs[0]["last"]["mid"], convs[0]["last"]["text"]), (sent["mid"], "<b>newest</b>"))
        self.assertEqual(convs[1], {"room": room, "private": False, "last": None})
        # The peer sees the same conversation from the other side.
        other = await self.logged_in(self.srv, peer)
        theirs = (await other.request({"type": "conversations", "limit": 1}))["conversations"]
        self.assertEqual([c.get("with") for c in theirs], [me.user])

    async def test_the_sender_hears_delivered_when_the_recipient_acks(self):
        alice = self.srv.new_user("dla")
        bob = self.srv.new_user("dlb")
        a = await self.logged_in(self.srv, alice)
        b = await self.logged_in(self.srv, bob)
        first = await a.request({"type": "send", "cid": "d1", "to": bob.user, "text": "one"})
        second = await a.request({"type": "send", "cid": "d2", "to": bob.user, "text": "two"})
        await b.wait_for("message", pred=lambda m: m.get("mid") == second["mid"])
        await b.send({"type": "ack", "upto": second["mid"]})
        got = await a.wait_for("delivered")
        self.assertEqual(got, {"type": "delivered", "from": bob.user, "upto": second["mid"]})
        self.assertLess(first["mid"], got["upto"])
        # Acking the same again delivers nothing new: no second receipt.
        await b.send({"type": "ack", "upto": second["mid"]})
        self.assertEqual((await a.request({"type": "ping"})).get("type"), "ok")
        self.assertEqual([o for o in a.seen if o.get("type") == "delivered"], [got])

    async def test_members_lists_a_room_for_its_members_only(self):
        a = self.srv.new_user("ma")
        b = self.srv.new_user("mb")
        outsider = self.srv.new_user("mo")
        wa = await self.logged_in(self.srv, a)
        wb = await self.logged_in(self.srv, b)
        room = "m" + os.urandom(3).hex()
        for ws in (wa, wb):
            self.assertEqual((await ws.request({"type": "join", "room": room})).get("type"), "ok")
        await wb.close()
        answer = await wa.request({"type": "members", "room": room})
        self.assertEqual(answer.get("type"), "ok", answer)
        self.assertEqual(sorted(answer["members"], key=lambda m: m["user"]),
                         sorted([{"user": a.user, "online": True}, {"user": b.user, "online": False}],
                                key=lambda m: m["user"]))
        wo = await self.logged_in(self.srv, outsider)
        self.assertEqual((await wo.request({"type": "members", "room": room})).get("code"), "forbidden")


class DirectoryOffTest(harness.AsyncChatdTestCase):
    async def test_users_is_forbidden_when_the_directory_is_off(self):
        srv = self.start_server("--user-directory", "false")
        acct = srv.new_user("nodir")
        ws = await self.logged_in(srv, acct)
        answer = await ws.request({"type": "users", "q": ""})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "forbidden"), answer)


if __name__ == "__main__":
    harness.main()
