# SPDX-License-Identifier: MIT
"""A full disk never hides an acknowledged message. SQLite is the source of truth; when the
RocksDB history cache cannot be written (its error then sticks), history and cursor catch-up
are answered from SQLite, `chatd stats` and the log say so (once), and the cache is caught up
and trusted again once writes succeed.

Two ways to fill the disk: a real tmpfs of its own (needs mount, i.e. root; skipped where it
is not allowed), and the `history-write` fault point (CHATD_FAULT), which fails the cache's
writes as RocksDB does on a full disk."""
import base64
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ARGS = ("--rate", 100000, "--burst", 100000, "--min-free-space", 0)
WRITE_FAILED = re.compile(r"history cache write failed")
CAUGHT_UP = re.compile(r"history cache caught up after a failed write")


def noise(n, size):
    """Incompressible text (RocksDB compresses its files; repeated letters take no room)."""
    return "%d " % n + base64.b64encode(os.urandom(size * 3 // 4)).decode()


class DiskFullTest(harness.AsyncChatdTestCase):
    async def send_all(self, ws, to, start, count, size):
        """Sends `count` messages (one per frame, pipelined 50 at a time); returns the mids of
        those answered ok and the error codes of the others."""
        mids, codes = [], []
        for first in range(start, start + count, 50):
            reqs = [{"type": "send", "id": "s%d" % n, "cid": "s%d" % n, "to": to, "text": noise(n, size)}
                    for n in range(first, min(first + 50, start + count))]
            for r in reqs:
                await ws.send(r)
            for r in reqs:
                answer = await ws.wait_seen(pred=lambda o, i=r["id"]: o.get("re") == i)
                if answer["type"] == "ok":
                    mids.append(answer["mid"])
                else:
                    codes.append(answer.get("code"))
        return mids, codes

    async def history_mids(self, ws, peer):
        got, before = [], None
        for _ in range(1000):
            req = {"type": "history", "with": peer, "limit": 200}
            if before:
                req["before"] = before
            page = await ws.request(req)
            self.assertEqual(page["type"], "ok", page)
            got = [m["mid"] for m in page["messages"]] + got
            if not page["more"]:
                return got
            before = page["messages"][0]["mid"]
        self.fail("history did not end")

    async def catch_up_mids(self, srv, account, cursor):
        ws = await self.connect(srv)
        _, msgs, _ = await ws.catch_up(token=account.token, device="c%d" % cursor, cursor=cursor)
        await ws.close()
        return [m["mid"] for m in msgs]

    def stats_cache_line(self, data_dir):
        r = harness.run_chatd(["stats", "--data-dir", data_dir])
        self.assertEqual(r.returncode, 0, r.stderr)
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("history cache:")]
        self.assertEqual(len(line), 1, r.stdout)
        return line[0]

    async def wait_trusted(self, srv, data_dir, limit):
        deadline = time.monotonic() + harness.timeout(limit)
        while time.monotonic() < deadline:
            if CAUGHT_UP.search(srv.log()) and self.stats_cache_line(data_dir).endswith(", ok"):
                return
            time.sleep(0.2)
        self.fail("the cache was not trusted again: %s" % self.stats_cache_line(data_dir))

    async def check_everything_visible(self, srv, sender, recipient, mids, cursor):
        """Every acked mid is in the history (both sides) and in a catch-up from `cursor`."""
        s = await self.logged_in(srv, sender, device="pager")
        for label, got in (("sender's history", await self.history_mids(s, recipient.user)),
                           ("catch-up", await self.catch_up_mids(srv, recipient, cursor))):
            missing = sorted(set(mids) - set(got))
            self.assertEqual(missing, [], "%s: %d acked message(s) missing" % (label, len(missing)))
        await s.close()

    async def test_real_full_filesystem(self):
        mnt = tempfile.mkdtemp(prefix="chatd-e2e-tmpfs-")
        self.addCleanup(os.rmdir, mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128m", "tmpfs", mnt], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here (%s); the fault-point test covers this" % r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
        data_dir = os.path.join(mnt, "data")
        srv = self.start_server(*ARGS, data_dir=data_dir)
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        # 1,500 messages, delivered and purged: SQLite keeps their pages as free space to reuse,
        # and its write-ahead log file keeps its size, so SQLite can go on writing on a full
        # disk while RocksDB needs a new table file for its next memtable flush (16 MiB).
        first, codes = await self.send_all(a, bob.user, 0, 1500, 16000)
        self.assertEqual(codes, [])
        b = await self.logged_in(srv, bob)
        self.assertEqual((await b.request({"type": "ack", "upto": first[-1]}))["type"], "ok")
        await b.close()
        # The ack reaches the tables purge reads with the server's next fold of the pool
        # (within about a second): purge until it has removed the 1,500.
        removed, deadline = 0, time.monotonic() + 10
        while removed < 1500 and time.monotonic() < deadline:
            r = harness.run_chatd(["purge", "--delivered", "--older-than", "0", "--data-dir", data_dir])
            self.assertEqual(r.returncode, 0, r.stderr)
            removed += int(re.search(r"removed (\d+) delivered", r.stdout).group(1))
            if removed < 1500:
                time.sleep(0.2)
        self.assertEqual(removed, 1500)
        st = os.statvfs(mnt)
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - 1_000_000))
        mids, codes = await self.send_all(a, bob.user, 10_000, 1000, 16000)
        self.assertEqual(set(codes) - {"storage_full"}, set(), "only storage_full may refuse a send")
        self.assertGreater(len(mids), 0)
        self.assertRegex(srv.log(), WRITE_FAILED, "the disk never refused the cache: nothing was tested")
        self.assertEqual(len(WRITE_FAILED.findall(srv.log())), 1, "the failure must be logged once")
        self.assertIn("behind since", self.stats_cache_line(data_dir))
        await self.check_everything_visible(srv, alice, bob, mids, first[-1])
        # Space comes back: the next writes succeed, and the cache catches up and is trusted.
        os.unlink(filler)
        more, codes = await self.send_all(a, bob.user, 20_000, 20, 1000)
        self.assertEqual(codes, [])
        await self.wait_trusted(srv, data_dir, 30)
        await self.check_everything_visible(srv, alice, bob, mids + more, first[-1])
        await a.close()

    async def test_injected_cache_write_failure(self):
        # The 20th cache write fails, and so does the first recovery attempt 2 s later.
        data_dir = self.temp_data_dir()
        srv = self.start_server(*ARGS, data_dir=data_dir, env={"CHATD_FAULT": "history-write@20-21"})
        alice, bob = srv.new_user("alice"), srv.new_user("bob")
        a = await self.logged_in(srv, alice)
        mids = []
        for n in range(60):  # one per batch: each send is answered before the next
            answer = await a.request({"type": "send", "cid": "c%d" % n, "to": bob.user, "text": "m%d" % n})
            self.assertEqual(answer["type"], "ok", answer)
            mids.append(answer["mid"])
        self.assertRegex(srv.log(), WRITE_FAILED)
        self.assertIn("injected fault history-write", self.stats_cache_line(data_dir))
        await self.check_everything_visible(srv, alice, bob, mids, 0)
        self.assertEqual(await self.catch_up_mids(srv, bob, mids[30]), mids[31:])
        await self.wait_trusted(srv, data_dir, 20)
        self.assertEqual(len(WRITE_FAILED.findall(srv.log())), 1, srv.log())
        self.assertRegex(srv.log(), r"still cannot be written")
        await self.check_everything_visible(srv, alice, bob, mids, 0)
        await a.close()


if __name__ == "__main__":
    harness.main()
