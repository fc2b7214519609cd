# SPDX-License-Identifier: MIT
"""WebSocket framing, with a raw client: the message size limit (1009), fragmentation,
UTF-8 validation (1007), binary frames (1003), protocol errors, control frames.

The oversized frames are kept small enough (a few KiB, one read) that the server has read all
of them when it closes: a close with unread data in the socket would be a TCP reset, and the
close frame could be lost on the way."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT  # noqa: E402

MAX_FRAME = 2048


class FramesTest(harness.ChatdTestCase):
    @classmethod
    def setUpClass(cls):
        # Long ping/idle times: nothing in these tests may be closed by the idle policy.
        cls.srv = cls.start_class_server("--max-frame", MAX_FRAME, "--max-text", 1024,
                                         "--ping-interval", 60, "--idle-timeout", 120)
        cls.acct = cls.srv.new_user("raw")  # one account, many connections

    def tearDown(self):
        # Whatever a test sent, the server is still up.
        r = self.srv.get("/healthz")
        self.assertEqual(r.status, 200, r)

    def client(self, login=True):
        c = harness.RawWs.for_server(self.srv)
        self.addCleanup(c.close)
        c.connect()
        if login:
            c.login(self.acct.token)
        return c

    def assertAnswers(self, c, rid="p"):
        c.send_text({"type": "ping", "id": rid})
        self.assertEqual(c.wait_answer(rid).get("type"), "ok")

    def assertClosedWith(self, c, code, wait=None, hang_up=True):
        try:
            got, before = c.read_close(wait or harness.T_ANSWER)
        except socket.timeout:
            self.fail("the server did not close within %.1f s" % (wait or harness.T_ANSWER))
        self.assertEqual(got, code, before)
        if hang_up:
            self.assertTrue(c.wait_eof(), "the server did not hang up after its close frame")

    def ping_of_size(self, size, rid):
        """A ping request of exactly `size` bytes."""
        skeleton = '{"type":"ping","id":"%s","pad":""}' % rid
        return '{"type":"ping","id":"%s","pad":"%s"}' % (rid, "x" * (size - len(skeleton)))

    # -- the size limit ----------------------------------------------------------------------
    def test_message_of_exactly_max_frame_is_accepted(self):
        c = self.client()
        text = self.ping_of_size(MAX_FRAME, "exact")
        self.assertEqual(len(text.encode()), MAX_FRAME)
        c.send_text(text)
        self.assertEqual(c.wait_answer("exact").get("type"), "ok")

    def test_oversized_frame_closes_1009(self):
        c = self.client()
        c.send_text(self.ping_of_size(MAX_FRAME + 1, "big"))
        self.assertClosedWith(c, 1009)

    def test_oversized_frame_before_hello_closes_1009(self):
        c = self.client(login=False)
        c.send_text(self.ping_of_size(MAX_FRAME + 100, "big"))
        self.assertClosedWith(c, 1009)

    def test_declared_huge_frame_is_closed_at_once(self):
        # The header says 10 MB; only 4 bytes follow. The server must not wait for the rest
        # (that would end only by the idle policy, a minute here).
        c = self.client()
        c.send_frame(OP_TEXT, b'{"ty', length=10 * 1024 * 1024)
        self.assertClosedWith(c, 1009, wait=harness.timeout(5))

    def test_fragmented_message_under_the_limit_works(self):
        c = self.client()
        text = self.ping_of_size(MAX_FRAME - 10, "frag").encode()
        pieces = [text[:1], text[1:700], text[700:1500], text[1500:]]
        c.send_frame(OP_TEXT, pieces[0], fin=False)
        c.send_frame(OP_CONT, pieces[1], fin=False)
        c.send_frame(OP_PING, b"in-between")  # control frames may come between fragments
        c.send_frame(OP_CONT, pieces[2], fin=False)
        c.send_frame(OP_CONT, pieces[3], fin=True)
        pong = c.read_frame()
        self.assertEqual((pong.opcode, pong.payload), (OP_PONG, b"in-between"))
        self.assertEqual(c.wait_answer("frag").get("type"), "ok")
        # Empty fragments are fine too.
        c.send_frame(OP_TEXT, b"", fin=False)
        c.send_frame(OP_CONT, b'{"type":"ping","id":"e"}', fin=False)
        c.send_frame(OP_CONT, b"", fin=True)
        self.assertEqual(c.wait_answer("e").get("type"), "ok")

    def test_fragments_adding_up_over_the_limit_close_1009(self):
        c = self.client()
        piece = b"x" * 800  # 3 x 800 > 2048; no single fragment is too big
        c.send_raw(harness.build_frame(OP_TEXT, b'{"type":"ping","p":"' + piece, fin=False) +
                   harness.build_frame(OP_CONT, piece, fin=False) +
                   harness.build_frame(OP_CONT, piece, fin=False))
        self.assertClosedWith(c, 1009)

    def test_limit_counts_per_message_not_per_connection(self):
        c = self.client()
        for i in range(4):  # 4 x 1.5 KiB on one connection, each message under the limit
            c.send_text(self.ping_of_size(1500, "m%d" % i))
            self.assertEqual(c.wait_answer("m%d" % i).get("type"), "ok")

    # -- text: UTF-8 -------------------------------------------------------------------------
    def test_invalid_utf8_closes_1007(self):
        cases = {
            "lone continuation byte": b'{"type":"ping","x":"\x80"}',
            "0xff": b'{"type":"ping","x":"\xff"}',
            "overlong slash": b'{"type":"ping","x":"\xc0\xaf"}',
            "surrogate half": b'{"type":"ping","x":"\xed\xa0\x80"}',
            "above U+10FFFF": b'{"type":"ping","x":"\xf4\x90\x80\x80"}',
            "truncated at the end": b'{"type":"ping","x":"\xe2\x82',
        }
        for why, payload in cases.items():
            with self.subTest(why):
                c = self.client()
                c.send_frame(OP_TEXT, payload)
                self.assertClosedWith(c, 1007)

    def test_invalid_utf8_before_hello_closes_1007(self):
        c = self.client(login=False)
        c.send_frame(OP_TEXT, b"\xc3\x28")
        self.assertClosedWith(c, 1007)

    def test_invalid_utf8_across_fragments_closes_1007(self):
        c = self.client()
        c.send_frame(OP_TEXT, b'{"type":"ping","x":"\xc3', fin=False)
        c.send_frame(OP_CONT, b'\x28"}', fin=True)
        self.assertClosedWith(c, 1007)

    def test_utf8_character_split_across_fragments_is_fine(self):
        c = self.client()
        c.send_frame(OP_TEXT, b'{"type":"ping","id":"u","x":"\xe2\x82', fin=False)
        c.send_frame(OP_CONT, b'\xac \xf0\x9f', fin=False)
        c.send_frame(OP_CONT, b'\x98\x80"}', fin=True)
        self.assertEqual(c.wait_answer("u").get("type"), "ok")

    # -- other opcodes and protocol errors ---------------------------------------------------
    def test_binary_frame_closes_1003(self):
        c = self.client()
        c.send_frame(OP_BINARY, b'{"type":"ping","id":1}')
        self.assertClosedWith(c, 1003)

    def test_protocol_errors_close_1002(self):
        cases = {
            "RSV1 without an extension": [harness.build_frame(OP_TEXT, b'{"type":"ping"}', rsv=4)],
            "RSV3": [harness.build_frame(OP_TEXT, b'{"type":"ping"}', rsv=1)],
            "reserved data opcode 3": [harness.build_frame(3, b"x")],
            "reserved control opcode 0xB": [harness.build_frame(0xB, b"x")],
            "continuation with nothing to continue": [harness.build_frame(OP_CONT, b'{"type":"ping"}')],
            "new text frame inside a fragmented message": [
                harness.build_frame(OP_TEXT, b'{"type":', fin=False),
                harness.build_frame(OP_TEXT, b'"ping"}')],
            "fragmented ping": [harness.build_frame(OP_PING, b"x", fin=False)],
            "close code 999": [harness.build_frame(OP_CLOSE, harness.close_payload(999))],
            "close code 1005 on the wire": [harness.build_frame(OP_CLOSE, harness.close_payload(1005))],
        }
        for why, frames in cases.items():
            with self.subTest(why):
                c = self.client()
                c.send_raw(b"".join(frames))
                # (After an RSV error lws sometimes keeps the socket until its 5 s close
                # timeout although our close answer came: not waited for here.)
                self.assertClosedWith(c, 1002, hang_up=False)

    def test_control_frame_over_125_bytes_ends_the_connection(self):
        c = self.client()
        c.send_frame(OP_PING, b"x" * 126)
        try:
            code, before = c.read_close()
        except socket.timeout:
            self.fail("a 126-byte ping was not refused")
        self.assertIn(code, (1002, None), before)  # 1002, or a plain hang-up
        self.assertNotIn(OP_PONG, [f.opcode for f in before])

    def test_ping_is_answered_with_the_same_payload(self):
        c = self.client()
        for payload in (b"", b"hello", bytes(range(125))):
            c.send_frame(OP_PING, payload)
            f = c.read_frame()
            self.assertEqual((f.opcode, f.payload), (OP_PONG, payload))
        self.assertAnswers(c)

    def test_unsolicited_pong_is_ignored(self):
        c = self.client()
        c.send_frame(OP_PONG, b"nobody asked")
        self.assertAnswers(c)

    def test_client_close_is_answered(self):
        c = self.client()
        c.send_close(1000, b"bye")
        self.assertClosedWith(c, 1000)
        c2 = self.client()
        c2.send_frame(OP_CLOSE, b"")
        got, _ = c2.read_close()
        self.assertIn(got, (1000, 1005))
        self.assertTrue(c2.wait_eof())

    def test_unmasked_client_frames_are_a_documented_deviation(self):
        # RFC 6455 5.1: a server must close on an unmasked client frame. lws 4.1.6 accepts them
        # and gives no way to tell (the mask bit is private to its parser), so chatd lists this
        # in docs/protocol.md. If lws ever refuses them, this test says to update the doc.
        c = self.client(login=False)
        c.send_text({"type": "ping", "id": "unmasked"}, mask=False)
        self.assertEqual(c.wait_answer("unmasked"), {"type": "ok", "re": "unmasked"})
        doc = open(os.path.join(harness.HERE, "..", "..", "docs", "protocol.md"), encoding="utf-8").read()
        self.assertIn("## Known deviations", doc)
        section = doc.split("## Known deviations", 1)[1]
        self.assertRegex(section, r"(?i)unmasked client frames")

    def test_server_frames_are_unmasked_text(self):
        c = self.client()
        c.send_text({"type": "ping", "id": "m"})
        deadline = time.monotonic() + harness.T_ANSWER
        while time.monotonic() < deadline:
            # read the raw header ourselves: the mask bit must be 0
            f_head = c._need(2, deadline)
            self.assertEqual(f_head[1] & 0x80, 0, "server frame is masked")
            c.buf = f_head + c.buf
            f = c.read_frame()
            self.assertEqual(f.opcode, OP_TEXT)
            self.assertEqual(f.rsv, 0)
            if b'"re":"m"' in f.payload:
                return
        self.fail("no answer")


class DefaultLimitTest(harness.ChatdTestCase):
    def test_declared_huge_frame_with_default_settings(self):
        srv = self.start_server()
        c = harness.RawWs.for_server(srv)
        self.addCleanup(c.close)
        c.connect()
        c.login(srv.new_user("dflt").token)
        # 64 KiB (the default limit) is fine...
        skeleton = '{"type":"ping","id":2,"pad":""}'
        c.send_text('{"type":"ping","id":2,"pad":"%s"}' % ("y" * (65536 - len(skeleton))))
        self.assertEqual(c.wait_answer(2).get("type"), "ok")
        # ...a header declaring 10 MB is refused as soon as it arrives.
        c.send_frame(OP_TEXT, b"{}", length=10 * 1024 * 1024)
        try:
            code, before = c.read_close(harness.timeout(5))
        except socket.timeout:
            self.fail("a frame declaring 10 MB was not refused at once")
        self.assertEqual(code, 1009, before)


class SmallRxBufferTest(harness.ChatdTestCase):
    """With the smallest receive buffer, a message arrives in many pieces: still whole, still checked."""

    def test_messages_larger_than_the_buffer(self):
        srv = self.start_server("--ws-rx-buffer", 512, "--max-frame", 8192, "--max-text", 1024)
        acct = srv.new_user("small")

        def client():
            c = harness.RawWs.for_server(srv)
            self.addCleanup(c.close)
            c.connect()
            c.login(acct.token)
            return c

        c = client()
        # Exactly max-frame, of two-byte characters that straddle every 512-byte piece.
        skeleton = '{"type":"ping","id":"whole","pad":""}'
        room = 8192 - len(skeleton)
        text = '{"type":"ping","id":"whole","pad":"%s"}' % ("\u00e9" * (room // 2) + "x" * (room % 2))
        self.assertEqual(len(text.encode()), 8192)
        c.send_text(text)
        self.assertEqual(c.wait_answer("whole").get("type"), "ok")
        # One byte more is refused, although no piece is larger than the buffer.
        c.send_text(text[:-2] + 'xx"}')
        code, before = c.read_close(harness.T_ANSWER)
        self.assertEqual(code, 1009, before)
        # Invalid UTF-8 far past the first piece is still found.
        c = client()
        bad = b'{"type":"ping","id":"bad","pad":"' + b"y" * 3000 + b'\xff"}'
        c.send_frame(OP_TEXT, bad)
        code, before = c.read_close(harness.T_ANSWER)
        self.assertEqual(code, 1007, before)


if __name__ == "__main__":
    harness.main()
