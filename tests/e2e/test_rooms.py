# SPDX-License-Identifier: MIT
"""Rooms and what goes with them: catch-up of an offline member (from their join on), private
rooms and invites, member events, presence (who sees it, the grace period), unread counts and
read markers (across devices and restarts), typing, receipts, broadcast refusal."""
import asyncio
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BIG = ("--rate", 100000, "--burst", 100000)
GRACE_MS = int(300 * harness.SCALE)  # presence grace for the presence tests


def new_room(prefix="room"):
    return harness.unique_name(prefix)


async def send_ok(ws, text, to=None, room=None):
    req = {"type": "send", "cid": "c-" + os.urandom(6).hex(), "text": text}
    req.update({"room": room} if room is not None else {"to": to})
    answer = await ws.request(req)
    if answer.get("type") != "ok":
        raise AssertionError("send %r was answered %r" % (req, answer))
    return answer["mid"]


async def join(ws, room, **extra):
    answer = await ws.request(dict({"type": "join", "room": room}, **extra))
    if answer.get("type") != "ok":
        raise AssertionError("join %s was answered %r" % (room, answer))
    return answer


async def wait_since(ws, since, type, pred=lambda o: True):
    """The first object of `type` passing `pred` received at index `since` of ws.seen or later."""
    for obj in ws.seen[since:]:
        if obj.get("type") == type and pred(obj):
            return obj
    return await ws.wait_for(type, pred=pred)


def of_type(ws, type, since=0, **match):
    return [o for o in ws.seen[since:] if o.get("type") == type and all(o.get(k) == v for k, v in match.items())]


class RoomMessagesTest(harness.AsyncChatdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server(*BIG)

    async def test_offline_member_gets_what_was_sent_while_away_and_nothing_before_joining(self):
        srv = self.srv
        alice, bob, carol = srv.new_user("alice"), srv.new_user("bob"), srv.new_user("carol")
        room = new_room()
        a = await self.logged_in(srv, alice)
        b = await self.logged_in(srv, bob)
        await join(a, room)
        await join(b, room)
        early = [await send_ok(a, "before carol %d" % i, room=room) for i in range(2)]
        c = await self.logged_in(srv, carol)
        answer = await join(c, room)
        self.assertEqual((answer.get("created"), answer.get("members")), (False, 3), answer)
        await c.close()
        away = []
        for i in range(6):
            ws = (a, b)[i % 2]
            away.append(await send_ok(ws, "while carol is away %d" % i, room=room))
        # Everyone online got them live; carol gets exactly these on login, in order.
        for ws, sent_by_self in ((a, 0), (b, 1)):
            last_other = [m for n, m in enumerate(away) if n % 2 != sent_by_self][-1]
            await ws.wait_seen("message", pred=lambda m, x=last_other: m.get("mid") == x)
        c2 = await self.connect(srv)
        welcome, msgs, _ = await c2.catch_up(token=carol.token)
        self.assertIn(room, [r.get("room") for r in welcome.get("rooms", [])], welcome)
        self.assertEqual([m["mid"] for m in msgs], away, c2.seen)
        self.assertTrue(all(m.get("room") == room and "to" not in m for m in msgs), msgs)
        self.assertEqual([m["from"] for m in msgs], [(alice.user, bob.user)[i % 2] for i in range(6)])
        self.assertFalse(set(early) & {m["mid"] for m in msgs})
        # From cursor 0 too, nothing from before the join.
        c3 = await self.connect(srv)
        _, msgs, _ = await c3.catch_up(token=carol.token, cursor=0)
        self.assertEqual([m["mid"] for m in msgs], away)
        # Acked: not again; a live member gets new ones live.
        self.assertEqual((await c2.request({"type": "ack", "upto": away[-1]})).get("type"), "ok")
        await c2.close()
        c4 = await self.connect(srv)
        _, msgs, _ = await c4.catch_up(token=carol.token)
        self.assertEqual(msgs, [])
        mid = await send_ok(b, "hello carol", room=room)
        got = await c4.wait_seen("message", pred=lambda m: m.get("mid") == mid)
        self.assertEqual((got.get("room"), got.get("from"), got.get("text")), (room, bob.user, "hello carol"))

    async def test_member_events_on_join_and_leave(self):
        srv = self.srv
        alice, bob, dave = srv.new_user("alice"), srv.new_user("bob"), srv.new_user("dave")
        room = new_room()
        a = await self.logged_in(srv, alice)
        b1 = await self.logged_in(srv, bob, device="one")
        b2 = await self.logged_in(srv, bob, device="two")
        d = await self.logged_in(srv, dave)  # shares nothing: sees no member events
        created = await join(a, room)
        self.assertEqual((created.get("created"), created.get("private"), created.get("members")), (True, False, 1))
        joined = await join(b1, room)
        self.assertEqual((joined.get("created"), joined.get("members")), (False, 2), joined)
        self.assertIn(alice.user, joined.get("online", []), joined)
        ev = await a.wait_seen("member", pred=lambda m: m.get("user") == bob.user)
        self.assertEqual((ev.get("room"), ev.get("joined")), (room, True), ev)
        # Joining again: answered the same way, announced to nobody.
        since = len(a.seen)
        again = await join(b1, room)
        self.assertEqual((again.get("created"), again.get("members")), (False, 2), again)
        mark = await send_ok(b1, "barrier 1", room=room)
        await a.wait_seen("message", pred=lambda m: m.get("mid") == mark)
        self.assertEqual(of_type(a, "member", since), [], "a second join was announced")
        # Leaving: alice and bob's other device hear it; bob is no longer a member.
        answer = await b1.request({"type": "leave", "room": room})
        self.assertEqual(answer.get("type"), "ok", answer)
        for ws in (a, b2):
            ev = await ws.wait_seen("member", pred=lambda m: m.get("user") == bob.user and m.get("joined") is False)
            self.assertEqual(ev.get("room"), room)
        answer = await b1.request({"type": "send", "cid": "x-" + os.urandom(4).hex(), "room": room, "text": "gone"})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "forbidden"), answer)
        answer = await b1.request({"type": "leave", "room": room})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "not_found"), answer)
        mark = await send_ok(a, "barrier 2", room=room)
        await a.request({"type": "ping"})
        await d.request({"type": "ping"})
        self.assertEqual(of_type(d, "member"), [], "a non-member saw member events")
        self.assertEqual(of_type(b1, "message", mid=mark), [], "a room message after leaving")
        self.assertEqual(of_type(b2, "message", mid=mark), [], "a room message after leaving")

    async def test_private_room_needs_an_invite(self):
        srv = self.srv
        alice, bob, carol = srv.new_user("alice"), srv.new_user("bob"), srv.new_user("carol")
        room = new_room("secret")
        a = await self.logged_in(srv, alice)
        b = await self.logged_in(srv, bob)
        c = await self.logged_in(srv, carol)
        created = await join(a, room, private=True)
        self.assertEqual((created.get("created"), created.get("private")), (True, True), created)
        secret = await send_ok(a, "members only", room=room)
        refused = {
            "join": {"type": "join", "room": room},
            "send": {"type": "send", "cid": "p-1", "room": room, "text": "let me in"},
            "history": {"type": "history", "room": room},
            "typing": {"type": "typing", "room": room},
            "invite by a non-member": {"type": "invite", "room": room, "user": carol.user},
        }
        for why, req in refused.items():
            with self.subTest(why):
                answer = await b.request(req)
                self.assertEqual((answer.get("type"), answer.get("code")), ("error", "forbidden"), answer)
        # Carol was not invited by that: she cannot join.
        answer = await c.request({"type": "join", "room": room})
        self.assertEqual(answer.get("code"), "forbidden", answer)
        self.assertEqual(of_type(c, "invited"), [])
        # A member invites bob: he hears of it, and may join.
        answer = await a.request({"type": "invite", "room": room, "user": bob.user})
        self.assertEqual(answer.get("type"), "ok", answer)
        ev = await b.wait_seen("invited")
        self.assertEqual((ev.get("room"), ev.get("by"), ev.get("private")), (room, alice.user, True), ev)
        joined = await join(b, room)
        self.assertEqual((joined.get("private"), joined.get("created"), joined.get("members")), (True, False, 2))
        await a.wait_seen("member", pred=lambda m: m.get("user") == bob.user and m.get("joined") is True)
        # Now bob is a member: his message reaches alice; the history is his to read.
        mid = await send_ok(b, "thanks", room=room)
        await a.wait_seen("message", pred=lambda m: m.get("mid") == mid)
        history = await b.request({"type": "history", "room": room})
        self.assertEqual(history.get("type"), "ok", history)
        self.assertIn(mid, [m["mid"] for m in history["messages"]])
        # Carol is still out.
        answer = await c.request({"type": "join", "room": room})
        self.assertEqual(answer.get("code"), "forbidden", answer)
        self.assertFalse(of_type(c, "message", mid=secret) or of_type(c, "message", mid=mid))

    async def test_non_admin_broadcast_is_refused(self):
        alice, bob = self.srv.new_user("alice"), self.srv.new_user("bob")
        a = await self.logged_in(self.srv, alice)
        b = await self.logged_in(self.srv, bob)
        answer = await a.request({"type": "send", "cid": "bc-1", "to": "*", "text": "everyone!"})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "forbidden"), answer)
        mid = await send_ok(a, "only bob", to=bob.user)
        await b.wait_seen("message", pred=lambda m: m.get("mid") == mid)
        self.assertEqual([m.get("text") for m in of_type(b, "message")], ["only bob"])


class TypingTest(harness.AsyncChatdTestCase):
    async def test_typing_is_relayed_and_never_stored(self):
        srv = self.start_server(*BIG)
        alice, bob, carol, dave = (srv.new_user(n) for n in ("alice", "bob", "carol", "dave"))
        room = new_room()
        a = await self.logged_in(srv, alice)
        b = await self.logged_in(srv, bob)
        c = await self.logged_in(srv, carol)
        d = await self.logged_in(srv, dave)
        for ws in (a, c):
            await join(ws, room)
        await a.send({"type": "typing", "to": bob.user})
        ev = await b.wait_seen("typing")
        self.assertEqual((ev.get("from"), ev.get("to")), (alice.user, bob.user), ev)
        # A second one within the second is dropped, and said so when it has an id.
        answer = await a.request({"type": "typing", "to": bob.user})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "rate_limited"), answer)
        await c.send({"type": "typing", "room": room})
        ev = await a.wait_seen("typing", pred=lambda m: m.get("room") == room)
        self.assertEqual(ev.get("from"), carol.user, ev)
        # Room typing needs membership.
        answer = await d.request({"type": "typing", "room": room})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "forbidden"), answer)
        # Real messages as barriers: nothing else reached the others.
        m1 = await send_ok(a, "real 1:1", to=bob.user)
        m2 = await send_ok(c, "real room", room=room)
        await b.wait_seen("message", pred=lambda m: m.get("mid") == m1)
        await a.wait_seen("message", pred=lambda m: m.get("mid") == m2)
        self.assertEqual(len(of_type(b, "typing")), 1, b.seen)
        self.assertEqual(of_type(d, "typing"), [])
        self.assertEqual(of_type(c, "typing"), [], "the typer got its own typing back")
        # Not stored: history and catch-up hold the real messages only.
        h = await b.request({"type": "history", "with": alice.user})
        self.assertEqual([m["mid"] for m in h["messages"]], [m1], h)
        h = await a.request({"type": "history", "room": room})
        self.assertEqual([m["mid"] for m in h["messages"]], [m2], h)
        b2 = await self.connect(srv)
        _, msgs, _ = await b2.catch_up(token=bob.token, cursor=0)
        self.assertEqual([m.get("type") for m in msgs], ["message"])
        self.assertEqual(of_type(b2, "typing"), [])


class PresenceTest(harness.AsyncChatdTestCase):
    async def wait_presence(self, ws, user, online, since=0):
        return await wait_since(ws, since, "presence", lambda m: m.get("user") == user and m.get("online") is online)

    async def test_presence_reaches_exactly_the_right_users(self):
        srv = self.start_server(*BIG, "--presence-grace-ms", GRACE_MS)
        alice, bob, carol, dave = (srv.new_user(n) for n in ("alice", "bob", "carol", "dave"))
        room = new_room()
        a = await self.logged_in(srv, alice)
        await join(a, room)
        b = await self.logged_in(srv, bob)
        await join(b, room)
        c = await self.logged_in(srv, carol)  # shares nothing with anyone
        d = await self.logged_in(srv, dave)   # will start a 1:1 with alice
        await a.close()
        t0 = time.monotonic()
        ev = await self.wait_presence(b, alice.user, False)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, GRACE_MS / 1000.0 * 0.6, "offline announced before the grace was over")
        # First connection again: online, to room co-members; the welcome lists who is online.
        since = len(b.seen)
        a = await self.connect(srv)
        welcome = await a.login(token=alice.token)
        self.assertIn(bob.user, welcome.get("online", []), welcome)
        self.assertNotIn(carol.user, welcome.get("online", []), welcome)
        self.assertNotIn(dave.user, welcome.get("online", []), welcome)
        await self.wait_presence(b, alice.user, True, since)
        # A reconnect within the grace says nothing at all.
        since = len(b.seen)
        await a.close()
        a = await self.connect(srv)
        await a.login(token=alice.token)
        await asyncio.sleep(2 * GRACE_MS / 1000.0 + 0.3)  # well past the grace
        mark = await send_ok(a, "still here", room=room)
        await b.wait_seen("message", pred=lambda m: m.get("mid") == mark)
        self.assertEqual(of_type(b, "presence", since), [], "a reconnect within the grace was announced")
        # A 1:1 conversation makes dave and alice see each other from then on.
        self.assertEqual(of_type(d, "presence", user=alice.user), [])
        mid = await send_ok(d, "hi alice", to=alice.user)
        await a.wait_seen("message", pred=lambda m: m.get("mid") == mid)
        await a.close()
        await self.wait_presence(d, alice.user, False)
        await self.wait_presence(b, alice.user, False, since)
        # A second device: its close is not the last, so nothing is said.
        since_b, since_d = len(b.seen), len(d.seen)
        a1 = await self.logged_in(srv, alice, device="one")
        await self.wait_presence(d, alice.user, True, since_d)
        await self.wait_presence(b, alice.user, True, since_b)
        since_b, since_d = len(b.seen), len(d.seen)
        a2 = await self.logged_in(srv, alice, device="two")
        await a2.close()
        await asyncio.sleep(2 * GRACE_MS / 1000.0 + 0.3)
        mark = await send_ok(a1, "one device left", room=room)
        await b.wait_seen("message", pred=lambda m: m.get("mid") == mark)
        mark = await send_ok(a1, "one device left", to=dave.user)
        await d.wait_seen("message", pred=lambda m: m.get("mid") == mark)
        self.assertEqual(of_type(b, "presence", since_b), [])
        self.assertEqual(of_type(d, "presence", since_d), [])
        # Carol shared nothing: she saw no presence at all; bob never saw carol's or dave's.
        await c.request({"type": "ping"})
        self.assertEqual(of_type(c, "presence"), [], c.seen)
        self.assertEqual([p for p in of_type(b, "presence") if p.get("user") != alice.user], [])
        self.assertEqual([p for p in of_type(d, "presence") if p.get("user") != alice.user], [])


class UnreadTest(harness.AsyncChatdTestCase):
    def unread(self, welcome_or_answer):
        u = welcome_or_answer.get("unread")
        self.assertIsInstance(u, dict, welcome_or_answer)
        return {k: v for k, v in u.items() if v}

    async def test_unread_counts_read_markers_and_receipts(self):
        data_dir = self.temp_data_dir()
        srv = self.start_server(*BIG, data_dir=data_dir)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        room = new_room()
        key = "#" + room
        a = await self.logged_in(srv, alice)
        b0 = await self.logged_in(srv, bob)
        await join(a, room)
        await join(b0, room)
        await send_ok(b0, "bob's own, not unread for bob", room=room)
        await b0.close()
        direct = [await send_ok(a, "direct %d" % i, to=bob.user) for i in range(2)]
        in_room = [await send_ok(a, "room %d" % i, room=room) for i in range(3)]
        b1 = await self.connect(srv)
        welcome = await b1.login(token=bob.token, device="one")
        self.assertEqual(self.unread(welcome), {alice.user: 2, key: 3}, welcome)
        rooms = await b1.request({"type": "rooms"})
        self.assertEqual(rooms.get("type"), "ok", rooms)
        entry = [r for r in rooms.get("rooms", []) if r.get("room") == room]
        self.assertEqual(len(entry), 1, rooms)
        self.assertEqual((entry[0].get("unread"), entry[0].get("members"), entry[0].get("private")), (3, 2, False))
        self.assertEqual(self.unread(rooms), {alice.user: 2, key: 3}, rooms)
        # Reading on device one: device two hears of it, alice gets a receipt.
        b2 = await self.logged_in(srv, bob, device="two")
        answer = await b1.request({"type": "read", "with": alice.user, "upto": direct[-1]})
        self.assertEqual(answer.get("type"), "ok", answer)
        ev = await b2.wait_seen("read", pred=lambda m: m.get("with") == alice.user)
        self.assertEqual(ev.get("upto"), direct[-1], ev)
        receipt = await a.wait_seen("receipt")
        self.assertEqual((receipt.get("from"), receipt.get("with"), receipt.get("upto")),
                         (bob.user, alice.user, direct[-1]), receipt)
        answer = await b1.request({"type": "read", "room": room, "upto": in_room[1]})
        self.assertEqual(answer.get("type"), "ok", answer)
        ev = await b2.wait_seen("read", pred=lambda m: m.get("room") == room)
        self.assertEqual(ev.get("upto"), in_room[1], ev)
        # A marker never moves back: the event carries the marker after the request.
        since = len(b2.seen)
        answer = await b1.request({"type": "read", "room": room, "upto": in_room[0]})
        self.assertEqual(answer.get("type"), "ok", answer)
        ev = await wait_since(b2, since, "read", lambda m: m.get("room") == room)
        self.assertEqual(ev.get("upto"), in_room[1], ev)
        self.assertEqual(of_type(a, "receipt", room=room), [], "a receipt for a room read")
        expected = {key: 1}
        b3 = await self.connect(srv)
        welcome = await b3.login(token=bob.token, device="three")
        self.assertEqual(self.unread(welcome), expected, welcome)
        rooms = await b3.request({"type": "rooms"})
        self.assertEqual([r.get("unread") for r in rooms["rooms"] if r.get("room") == room], [1], rooms)
        # New messages count again; the marker holds across restarts (graceful and not).
        await send_ok(a, "one more", to=bob.user)
        expected = {alice.user: 1, key: 1}
        for ws in (a, b1, b2, b3):
            await ws.close()
        for how in (signal.SIGTERM, signal.SIGKILL):
            srv.stop(sig=how)
            srv.close()
            srv = self.start_server(*BIG, data_dir=data_dir)
            b = await self.connect(srv)
            welcome = await b.login(token=bob.token)
            self.assertEqual(self.unread(welcome), expected, (how, welcome))
            rooms = await b.request({"type": "rooms"})
            self.assertEqual(self.unread(rooms), expected, (how, rooms))
            await b.close()

    async def test_read_in_a_conversation_sends_a_receipt_to_every_device_of_the_peer(self):
        srv = self.start_server(*BIG)
        alice, bob, carol = srv.new_user("alice"), srv.new_user("bob"), srv.new_user("carol")
        a1 = await self.logged_in(srv, alice, device="one")
        a2 = await self.logged_in(srv, alice, device="two")
        b = await self.logged_in(srv, bob)
        c = await self.logged_in(srv, carol)
        mid = await send_ok(a1, "read me", to=bob.user)
        await b.wait_seen("message", pred=lambda m: m.get("mid") == mid)
        self.assertEqual((await b.request({"type": "read", "with": alice.user, "upto": mid})).get("type"), "ok")
        for ws in (a1, a2):
            r = await ws.wait_seen("receipt")
            self.assertEqual((r.get("from"), r.get("with"), r.get("upto")), (bob.user, alice.user, mid), r)
        await c.request({"type": "ping"})
        self.assertEqual(of_type(c, "receipt") + of_type(c, "read"), [])
        welcome = await (await self.connect(srv)).login(token=bob.token)
        self.assertEqual({k: v for k, v in welcome.get("unread", {}).items() if v}, {}, welcome)


if __name__ == "__main__":
    harness.main()
