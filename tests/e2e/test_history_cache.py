# SPDX-License-Identifier: MIT
"""The RocksDB history cache is only a cache: deleted or damaged while the server is down, it is
moved aside and rebuilt from SQLite at start, and every answer that comes from it (history
pages of 1:1 conversations and rooms, catch-up by cursor) is byte for byte what it was."""
import asyncio
import glob
import json
import os
import re
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = ("--rate", 100000, "--burst", 100000)
REBUILT = re.compile(r"history.*(rebuil|copied|refill|from the database|from sqlite)", re.I)
TEXTS = ["plain", "\u00e9t\u00e9 \U0001F600", 'quote " and backslash \\', "two\nlines\tand a tab",
         "</script><b>not html</b>", "x" * 300]


class HistoryCacheTest(harness.AsyncChatdTestCase):
    async def fill(self):
        """A server with 1:1 and room history; returns (server, data dir)."""
        data_dir = self.temp_data_dir()
        srv = self.start_server(*ARGS, data_dir=data_dir)
        self.alice, self.bob, self.carol = srv.new_user("alice"), srv.new_user("bob"), srv.new_user("carol")
        self.room = harness.unique_name("room").replace("_", "-")
        ws = {}
        for acct in (self.alice, self.bob, self.carol):
            ws[acct.user] = await self.logged_in(srv, acct)
            answer = await ws[acct.user].request({"type": "join", "room": self.room})
            self.assertEqual(answer.get("type"), "ok", answer)
        self.mids = {"ab": [], "ac": [], "room": []}
        plan = []
        for i in range(130):
            a, b = (self.alice, self.bob) if i % 3 else (self.bob, self.alice)
            plan.append(("ab", a, {"to": b.user}))
            plan.append(("room", (self.alice, self.bob, self.carol)[i % 3], {"room": self.room}))
            if i % 6 == 0:
                plan.append(("ac", self.carol, {"to": self.alice.user}))
        # Pipelined in frames of 40 requests, answers collected by id.
        for start in range(0, len(plan), 40):
            by_sender = {}
            for n, (conv, sender, target) in enumerate(plan[start:start + 40], start):
                req = dict({"type": "send", "id": "f%d" % n, "cid": "f%d" % n,
                            "text": "%d %s" % (n, TEXTS[n % len(TEXTS)])}, **target)
                by_sender.setdefault(sender.user, []).append((conv, req))
            for user, reqs in by_sender.items():
                await ws[user].send("\n".join(json.dumps(r) for _, r in reqs))
            for user, reqs in by_sender.items():
                for conv, req in reqs:
                    ok = await ws[user].wait_seen(pred=lambda o, i=req["id"]: o.get("re") == i)
                    self.assertEqual(ok.get("type"), "ok", ok)
                    self.mids[conv].append(ok["mid"])
        for conv in self.mids:
            self.mids[conv].sort()
        for w in ws.values():
            await w.close()
        return srv, data_dir

    async def snapshot(self, srv):
        """Every answer the cache serves, as the raw text of each line: all pages of the three
        conversations (two page sizes), and catch-ups from a cursor in the middle."""
        out = {}
        a = await self.logged_in(srv, self.alice, device="pager")
        c = await self.logged_in(srv, self.carol, device="pager")
        seq = iter(range(10 ** 6))

        async def pages(ws, key, target, limit, expect):
            before, lines, mids = None, [], []
            for _ in range(len(expect) // limit + 3):
                req = dict({"type": "history", "id": "p%d" % next(seq), "limit": limit}, **target)
                if before is not None:
                    req["before"] = before
                answer = await ws.request(req)
                self.assertEqual(answer.get("type"), "ok", answer)
                lines.append(ws.raw(answer))
                page = [m["mid"] for m in answer["messages"]]
                mids = page + mids
                if not answer.get("more"):
                    break
                before = page[0]
            self.assertEqual(mids, expect, "%s: the pages are not the conversation" % key)
            out[key] = lines

        await pages(a, "alice-bob/50", {"with": self.bob.user}, 50, self.mids["ab"])
        await pages(a, "alice-bob/7", {"with": self.bob.user}, 7, self.mids["ab"])
        await pages(a, "alice-carol/50", {"with": self.carol.user}, 50, self.mids["ac"])
        await pages(a, "room/40", {"room": self.room}, 40, self.mids["room"])
        await pages(c, "room/200 by carol", {"room": self.room}, 200, self.mids["room"])
        await pages(c, "carol-alice/3", {"with": self.alice.user}, 3, self.mids["ac"])
        mine = sorted(self.mids["ab"] + self.mids["ac"] + self.mids["room"])
        for acct, cursor in ((self.alice, mine[len(mine) // 3]), (self.alice, mine[-5]), (self.carol, mine[40])):
            ws = await self.connect(srv)
            _, msgs, _ = await ws.catch_up(token=acct.token, device="gap", cursor=cursor)
            expect = sorted(m for m in (mine if acct is self.alice else self.mids["ac"] + self.mids["room"])
                            if m > cursor)
            self.assertEqual([m["mid"] for m in msgs], expect, "catch-up of %s from %d" % (acct.user, cursor))
            out["gap %s from %d" % (acct.user, cursor)] = [ws.raw(m) for m in msgs]
            await ws.close()
        await a.close()
        await c.close()
        return out

    def assertSameAnswers(self, before, after, why):
        self.assertEqual(sorted(before), sorted(after))
        for key in before:
            self.assertEqual(len(before[key]), len(after[key]), "%s: %s" % (why, key))
            for n, (x, y) in enumerate(zip(before[key], after[key])):
                self.assertEqual(x, y, "%s: %s, answer %d differs" % (why, key, n))

    def restart(self, srv, data_dir, damage):
        self.assertEqual(srv.stop(), 0, "graceful stop")
        srv.close()
        damage(os.path.join(data_dir, "history"))
        return self.start_server(*ARGS, data_dir=data_dir)

    def assertMovedAside(self, srv, data_dir):
        self.assertRegex(srv.log(), r"history\.broken-", "no log line about moving the cache aside")
        self.assertTrue(glob.glob(os.path.join(data_dir, "history.broken-*")), os.listdir(data_dir))
        self.assertTrue(os.path.isdir(os.path.join(data_dir, "history")), "no new cache")

    async def test_deleted_cache_is_rebuilt(self):
        srv, data_dir = await self.fill()
        before = await self.snapshot(srv)
        srv = self.restart(srv, data_dir, shutil.rmtree)
        self.assertRegex(srv.log(), REBUILT, "the log does not say the cache was rebuilt")
        self.assertSameAnswers(before, await self.snapshot(srv), "after deleting the cache")
        # The rebuilt cache is a good one: a plain restart keeps it and the answers.
        srv = self.restart(srv, data_dir, lambda path: None)
        self.assertNotRegex(srv.log(), r"history\.broken-")
        self.assertSameAnswers(before, await self.snapshot(srv), "after another restart")

    async def test_garbage_in_CURRENT(self):
        srv, data_dir = await self.fill()
        before = await self.snapshot(srv)

        def damage(path):
            with open(os.path.join(path, "CURRENT"), "wb") as f:
                f.write(os.urandom(40))

        srv = self.restart(srv, data_dir, damage)
        self.assertMovedAside(srv, data_dir)
        self.assertSameAnswers(before, await self.snapshot(srv), "after garbage in CURRENT")

    async def test_kill_9_loses_only_what_the_cache_can_copy_back(self):
        # The cache is written without a write-ahead log: kill -9 loses its unflushed memtable,
        # and start-up copies the missing messages from SQLite.
        srv, data_dir = await self.fill()
        before = await self.snapshot(srv)
        self.assertEqual(srv.stop(sig=signal.SIGKILL), -signal.SIGKILL)
        srv.close()
        srv = self.start_server(*ARGS, data_dir=data_dir)
        self.assertRegex(srv.log(), REBUILT, "the log does not say messages were copied into the cache")
        self.assertSameAnswers(before, await self.snapshot(srv), "after kill -9")

    async def test_damaged_table_files(self):
        srv, data_dir = await self.fill()
        # A restart moves the write-ahead log into a table file (.sst).
        srv = self.restart(srv, data_dir, lambda path: None)
        before = await self.snapshot(srv)
        srv = self.restart(srv, data_dir, lambda path: truncate_newest(self, path, ".sst", keep=0.5))
        self.assertMovedAside(srv, data_dir)
        self.assertSameAnswers(before, await self.snapshot(srv), "after truncating the newest .sst")

    async def test_garbage_inside_a_table_file(self):
        srv, data_dir = await self.fill()
        srv = self.restart(srv, data_dir, lambda path: None)
        before = await self.snapshot(srv)

        def damage(path):
            # Same size, footer intact: the damage shows only when the blocks are read.
            sst = newest(self, path, ".sst")
            size = os.path.getsize(sst)
            with open(sst, "r+b") as f:
                f.seek(size // 4)
                f.write(os.urandom(size // 3))

        srv = self.restart(srv, data_dir, damage)
        self.assertSameAnswers(before, await self.snapshot(srv), "after garbage inside the newest .sst")

    async def test_every_file_garbage(self):
        srv, data_dir = await self.fill()
        srv = self.restart(srv, data_dir, lambda path: None)
        before = await self.snapshot(srv)

        def damage(path):
            for name in os.listdir(path):
                if name != "LOCK":
                    with open(os.path.join(path, name), "wb") as f:
                        f.write(os.urandom(100))

        srv = self.restart(srv, data_dir, damage)
        self.assertMovedAside(srv, data_dir)
        self.assertSameAnswers(before, await self.snapshot(srv), "after garbage in every file")

    async def test_cache_from_another_database_is_not_trusted(self):
        srv, data_dir = await self.fill()
        before = await self.snapshot(srv)
        # Another server's cache (another epoch) in place of ours.
        other = self.start_server(*ARGS)
        self.assertEqual(other.stop(), 0)
        srv = self.restart(srv, data_dir, lambda path: (shutil.rmtree(path),
                                                       shutil.copytree(os.path.join(other.data_dir, "history"), path)))
        self.assertMovedAside(srv, data_dir)
        self.assertSameAnswers(before, await self.snapshot(srv), "after swapping in a foreign cache")

    async def test_cursor_catch_up_after_retention_gets_every_message_and_goes_live(self):
        # Retention keeps 400 per conversation (the per-user index 1,600); kill -9 makes the
        # next start copy the lost memtable back and trim. A device with cursor 0 must still
        # get all 2,000, then `live`, from SQLite for what the cache no longer holds.
        data_dir = self.temp_data_dir()
        args = ARGS + ("--history-max-messages", 400)
        srv = self.start_server(*args, data_dir=data_dir)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        mids = []
        for start in range(0, 2000, 200):
            reqs = [{"type": "send", "id": "s%d" % n, "cid": "s%d" % n, "to": bob.user, "text": "m%d" % n}
                    for n in range(start, start + 200)]
            await a.send("\n".join(json.dumps(r) for r in reqs))
            for r in reqs:
                ok = await a.wait_seen(pred=lambda o, i=r["id"]: o.get("re") == i)
                self.assertEqual(ok.get("type"), "ok", ok)
                mids.append(ok["mid"])
        await a.close()
        self.assertEqual(srv.stop(sig=signal.SIGKILL), -signal.SIGKILL)
        srv.close()
        srv = self.start_server(*args, data_dir=data_dir)
        self.assertRegex(srv.log(), REBUILT, "the restart did not copy the lost cache back (nothing to trim)")
        for cursor_at in (0, 500, 1700):
            cursor = 0 if cursor_at == 0 else mids[cursor_at - 1]
            ws = await self.connect(srv)
            _, msgs, live = await ws.catch_up(token=bob.token, device="d%d" % cursor_at, cursor=cursor)
            self.assertEqual([m["mid"] for m in msgs], mids[cursor_at:], "catch-up from %d" % cursor)
            self.assertEqual([m["text"] for m in msgs[:3]], ["m%d" % n for n in range(cursor_at, cursor_at + 3)])
            self.assertEqual(live["mid"], mids[-1])
            await ws.close()
        # The page's history agrees: every message, paged backwards.
        b = await self.logged_in(srv, bob)
        seen, before = [], None
        for _ in range(20):
            req = {"type": "history", "with": alice.user, "limit": 200}
            if before:
                req["before"] = before
            page = await b.request(req)
            seen = [m["mid"] for m in page["messages"]] + seen
            if not page["more"]:
                break
            before = page["messages"][0]["mid"]
        self.assertEqual(seen, mids)


def newest(test, path, suffix):
    files = [os.path.join(path, n) for n in os.listdir(path) if n.endswith(suffix)]
    files = [f for f in files if os.path.getsize(f) > 0]
    test.assertTrue(files, "no non-empty %s file in the cache: %s" % (suffix, os.listdir(path)))
    return max(files, key=lambda f: (int(re.sub(r"\D", "", os.path.basename(f)) or 0), f))


def truncate_newest(test, path, suffix, keep):
    """Cuts the newest `suffix` file to `keep` of its size and appends garbage."""
    f_path = newest(test, path, suffix)
    size = os.path.getsize(f_path)
    with open(f_path, "r+b") as f:
        f.truncate(int(size * keep))
        f.seek(0, os.SEEK_END)
        f.write(os.urandom(512))


if __name__ == "__main__":
    harness.main()
