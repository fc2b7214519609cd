# SPDX-License-Identifier: MIT
"""Accounts and logging in: register, login, logout over HTTP; hello by token, cookie,
user+password and site JWT over /ws; everything refused before a valid hello."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SITE_SECRET = "e2e-site-secret-" + "s" * 32


def error_code(r):
    return r.json().get("error", {}).get("code")


class RegisterLoginTest(harness.ChatdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server()

    def test_registration_is_open_by_default_on_loopback(self):
        self.assertIn("registration open", self.srv.first_line)

    def test_register_then_login(self):
        name = harness.unique_name("reg")
        r = self.srv.register(name, "correct horse")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json().get("user"), name)
        r = self.srv.login(name, "correct horse")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body.get("user"), name)
        self.assertIs(body.get("admin"), False)
        self.assertIsInstance(body.get("token"), str)
        self.assertGreaterEqual(len(body["token"]), 16)
        # The session cookie carries the same token, HttpOnly and SameSite=Strict.
        cookies = r.headers.get_all("Set-Cookie") or []
        session = [c for c in cookies if c.startswith("chatd_session=")]
        self.assertEqual(len(session), 1, cookies)
        self.assertEqual(harness.cookie_from(r), body["token"])
        attrs = [a.strip().lower() for a in session[0].split(";")[1:]]
        self.assertIn("httponly", attrs)
        self.assertIn("samesite=strict", attrs)
        # Each login is a new session.
        r2 = self.srv.login(name, "correct horse")
        self.assertEqual(r2.status, 200, r2)
        self.assertNotEqual(r2.json()["token"], body["token"])

    def test_names_are_unique_ignoring_case(self):
        name = harness.unique_name("Case")
        self.assertEqual(self.srv.register(name, "password-1").status, 201)
        r = self.srv.register(name, "password-2")
        self.assertEqual((r.status, error_code(r)), (409, "conflict"), r)
        r = self.srv.register(name.upper(), "password-2")
        self.assertEqual((r.status, error_code(r)), (409, "conflict"), r)
        r = self.srv.register(name.lower(), "password-2")
        self.assertEqual((r.status, error_code(r)), (409, "conflict"), r)
        # The first password is still the one that works.
        self.assertEqual(self.srv.login(name, "password-1").status, 200)
        self.assertEqual(self.srv.login(name, "password-2").status, 401)

    def test_invalid_names_and_passwords(self):
        bad_names = ["", "a b", "x" * 33, "caf\u00e9", "a/b", "a@b", "<script>", "a\nb"]
        for name in bad_names:
            r = self.srv.register(name, "long enough password")
            self.assertEqual((r.status, error_code(r)), (400, "bad_request"), (name, r))
        r = self.srv.register(harness.unique_name("pw"), "1234567")
        self.assertEqual((r.status, error_code(r)), (400, "bad_request"), r)
        # The limits themselves are allowed: 32 characters of the allowed set, 8-byte password.
        longest = ("L" + os.urandom(8).hex() + "._-" + "z" * 32)[:32]
        r = self.srv.register(longest, "12345678")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.srv.login(longest, "12345678").status, 200)
        r = self.srv.register("1", "12345678")  # the shortest name: one character
        self.assertEqual(r.status, 201, r)

    def test_bad_request_bodies(self):
        for body in (b"", b"not json", b"[1,2]", b'{"user":"x"}', b'{"password":"12345678"}',
                     b'{"user":5,"password":"12345678"}'):
            r = self.srv.post("/api/register", body, headers={"Content-Type": "application/json"})
            self.assertEqual((r.status, error_code(r)), (400, "bad_request"), (body, r))

    def test_wrong_password_and_unknown_user_look_the_same(self):
        name = harness.unique_name("wp")
        self.assertEqual(self.srv.register(name, "the right one").status, 201)
        wrong = self.srv.login(name, "the wrong one")
        self.assertEqual((wrong.status, error_code(wrong)), (401, "unauthorized"), wrong)
        self.assertIsNone(harness.cookie_from(wrong))
        self.assertNotIn("token", wrong.json())
        unknown = self.srv.login(harness.unique_name("ghost"), "the wrong one")
        self.assertEqual((unknown.status, error_code(unknown)), (401, "unauthorized"), unknown)
        self.assertEqual(wrong.json()["error"]["message"], unknown.json()["error"]["message"])


class RegistrationClosedTest(harness.ChatdTestCase):
    def test_registration_closed(self):
        srv = self.start_server("--registration", "closed")
        self.assertIn("registration closed", srv.first_line)
        r = srv.register(harness.unique_name("closed"), "password-1")
        self.assertEqual((r.status, error_code(r)), (403, "forbidden"), r)
        self.assertEqual(srv.get("/healthz").status, 200)


class HelloTest(harness.AsyncChatdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server("--site-secret", SITE_SECRET)

    def assertWelcome(self, welcome, user, device=None):
        self.assertEqual(welcome.get("type"), "welcome", welcome)
        self.assertEqual(welcome.get("user"), user)
        if device is not None:
            self.assertEqual(welcome.get("device"), device)
        self.assertIsInstance(welcome.get("device"), str)
        self.assertIsInstance(welcome.get("admin"), bool)
        self.assertIsInstance(welcome.get("rooms"), list)
        self.assertIsInstance(welcome.get("online"), list)
        self.assertIsInstance(welcome.get("unread"), dict)

    async def assertUsable(self, ws, user):
        """A logged-in connection answers `who` and lists `user` as online."""
        answer = await ws.request({"type": "who"})
        self.assertEqual(answer.get("type"), "ok", answer)
        self.assertIn(user, [u.get("user") for u in answer.get("users", [])], answer)

    async def test_hello_by_token(self):
        acct = self.srv.new_user("tok")
        ws = await self.connect(self.srv)
        welcome = await ws.hello(token=acct.token, device="laptop")
        self.assertWelcome(welcome, acct.user, "laptop")
        self.assertIs(welcome["admin"], False)
        live = await ws.wait_for("live")
        self.assertIsInstance(live.get("mid"), int)
        self.assertGreaterEqual(live["mid"], 0)
        await self.assertUsable(ws, acct.user)

    async def test_hello_by_cookie(self):
        acct = self.srv.new_user("cookie")
        self.assertTrue(acct.cookie)
        ws = await self.connect(self.srv, cookie=acct.cookie)
        welcome = await ws.hello(device="browser")
        self.assertWelcome(welcome, acct.user, "browser")
        await ws.wait_for("live")
        await self.assertUsable(ws, acct.user)

    async def test_bad_cookie_is_refused(self):
        ws = await self.connect(self.srv, cookie="not-a-session-" + os.urandom(8).hex())
        answer = await ws.hello()
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)

    async def test_hello_by_user_and_password(self):
        acct = self.srv.new_user("pw")
        ws = await self.connect(self.srv)
        welcome = await ws.hello(user=acct.user, password=acct.password)
        self.assertWelcome(welcome, acct.user)
        await ws.wait_for("live")
        await self.assertUsable(ws, acct.user)

    async def test_hello_by_site_jwt_creates_the_user(self):
        name = harness.unique_name("jwt")
        token = harness.make_jwt({"sub": name, "exp": int(time.time()) + 600}, SITE_SECRET)
        ws = await self.connect(self.srv)
        welcome = await ws.hello(token=token)
        self.assertWelcome(welcome, name)
        await ws.wait_for("live")
        await self.assertUsable(ws, name)
        # The user now exists: the name can no longer be registered.
        r = self.srv.register(name, "password-1")
        self.assertEqual(r.status, 409, r)
        # And a second JWT for the same user logs into the same account.
        ws2 = await self.connect(self.srv)
        welcome2 = await ws2.hello(token=harness.make_jwt({"sub": name, "exp": int(time.time()) + 600},
                                                           SITE_SECRET))
        self.assertWelcome(welcome2, name)

    async def test_bad_site_jwts_are_refused(self):
        name = harness.unique_name("badjwt")
        now = int(time.time())
        bad = {
            "wrong secret": harness.make_jwt({"sub": name, "exp": now + 600}, "another secret " + "x" * 32),
            "expired": harness.make_jwt({"sub": name, "exp": now - 120}, SITE_SECRET),
            "no exp": harness.make_jwt({"sub": name}, SITE_SECRET),
            "alg none": harness.make_jwt({"sub": name, "exp": now + 600}, SITE_SECRET,
                                         header={"alg": "none", "typ": "JWT"}),
            "bad sub": harness.make_jwt({"sub": "no spaces allowed", "exp": now + 600}, SITE_SECRET),
            "garbage": "a.b.c",
        }
        unsigned = harness.make_jwt({"sub": name, "exp": now + 600}, SITE_SECRET).rsplit(".", 1)[0] + "."
        bad["empty signature"] = unsigned
        for why, token in bad.items():
            ws = await self.connect(self.srv)
            answer = await ws.hello(token=token)
            self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), (why, answer))
            await ws.close()
        # None of them created the user.
        r = self.srv.register(name, "password-1")
        self.assertEqual(r.status, 201, r)

    async def test_bad_password_is_unauthorized_and_connection_stays(self):
        acct = self.srv.new_user("badpw")
        ws = await self.connect(self.srv)
        answer = await ws.hello(user=acct.user, password="not the password")
        self.assertEqual(answer.get("type"), "error", answer)
        self.assertEqual(answer.get("code"), "unauthorized", answer)
        self.assertIsInstance(answer.get("message"), str)
        # Still not logged in...
        answer = await ws.request({"type": "who"})
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)
        # ...but the connection is usable and a correct hello now works.
        welcome = await ws.hello(user=acct.user, password=acct.password)
        self.assertWelcome(welcome, acct.user)

    async def test_unknown_token_is_unauthorized(self):
        ws = await self.connect(self.srv)
        answer = await ws.hello(token="no-such-token-" + os.urandom(16).hex())
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)

    async def test_hello_without_credentials_is_unauthorized(self):
        ws = await self.connect(self.srv)
        answer = await ws.hello(device="x")
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)

    async def test_three_failed_hellos_close_1008(self):
        acct = self.srv.new_user("thrice")
        ws = await self.connect(self.srv)
        for i in range(2):
            answer = await ws.hello(user=acct.user, password="wrong password %d" % i)
            self.assertEqual(answer.get("code"), "unauthorized", answer)
        await ws.send({"type": "hello", "id": "last", "user": acct.user, "password": "wrong again"})
        code, got = await ws.closed()
        self.assertEqual(code, 1008, got)
        self.assertIn("unauthorized", [o.get("code") for o in got if o.get("re") == "last"], got)
        # The account itself is not locked: another connection logs in.
        ws2 = await self.connect(self.srv)
        self.assertWelcome(await ws2.hello(token=acct.token), acct.user)

    async def test_requests_before_hello_are_unauthorized(self):
        acct = self.srv.new_user("early")
        other = self.srv.new_user("early")
        ws = await self.connect(self.srv)
        requests = [
            {"type": "who"},
            {"type": "send", "cid": "c1", "to": other.user, "text": "hi"},
            {"type": "history", "with": other.user},
            {"type": "ack", "upto": 1},
            {"type": "rooms"},
            {"type": "join", "room": "general"},
        ]
        for req in requests:
            answer = await ws.request(req)
            self.assertEqual(answer.get("type"), "error", (req, answer))
            self.assertEqual(answer.get("code"), "unauthorized", (req, answer))
        # ping is allowed before hello.
        answer = await ws.request({"type": "ping"})
        self.assertEqual(answer.get("type"), "ok", answer)
        # The refused send was not delivered: the peer sees nothing, and history is empty.
        welcome = await ws.hello(token=acct.token)
        self.assertWelcome(welcome, acct.user)
        await ws.wait_for("live")
        peer = await self.logged_in(self.srv, other)
        answer = await peer.request({"type": "history", "with": acct.user})
        self.assertEqual(answer.get("type"), "ok", answer)
        self.assertEqual(answer.get("messages"), [], answer)

    async def test_logout_revokes_the_token(self):
        acct = self.srv.new_user("logout")
        second = self.srv.login(acct.user, acct.password).json()["token"]
        ws = await self.connect(self.srv)
        self.assertWelcome(await ws.hello(token=acct.token), acct.user)
        r = self.srv.post("/api/logout", headers={"Authorization": "Bearer " + acct.token})
        self.assertEqual(r.status, 200, r)
        # The cookie is cleared.
        cookies = [c for c in (r.headers.get_all("Set-Cookie") or []) if c.startswith("chatd_session=")]
        self.assertEqual(len(cookies), 1, cookies)
        self.assertTrue(cookies[0].startswith("chatd_session=;") or "max-age=0" in cookies[0].lower(), cookies)
        ws2 = await self.connect(self.srv)
        answer = await ws2.hello(token=acct.token)
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)
        # Only that session ended: the user's other login still works.
        ws3 = await self.connect(self.srv)
        self.assertWelcome(await ws3.hello(token=second), acct.user)

    async def test_logout_ends_the_live_sessions_of_that_login_only(self):
        acct = self.srv.new_user("logoutlive")
        second = self.srv.login(acct.user, acct.password).json()["token"]
        by_token = await self.logged_in(self.srv, acct, device="by-token")
        by_cookie = await self.connect(self.srv, cookie=acct.cookie)
        await by_cookie.login(device="by-cookie")
        other_login = await self.connect(self.srv)
        await other_login.login(token=second, device="other-login")
        r = self.srv.post("/api/logout", headers={"Cookie": "chatd_session=" + acct.cookie})
        self.assertEqual(r.status, 200, r)
        for ws in (by_token, by_cookie):
            code, _ = await ws.closed(harness.T_ANSWER)
            self.assertEqual(code, 4001)
            self.assertEqual(ws.conn.close_reason, "logged out")
        await self.assertUsable(other_login, acct.user)

    async def test_logout_by_cookie(self):
        acct = self.srv.new_user("logoutc")
        r = self.srv.post("/api/logout", headers={"Cookie": "chatd_session=" + acct.cookie})
        self.assertEqual(r.status, 200, r)
        ws = await self.connect(self.srv, cookie=acct.cookie)
        answer = await ws.hello()
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)


class SiteTokenLocalAccountTest(harness.AsyncChatdTestCase):
    async def test_site_token_cannot_log_in_as_a_local_password_account(self):
        srv = self.start_server("--site-secret", SITE_SECRET)
        local = srv.new_user("local")
        admin = harness.unique_name("admin")
        r = harness.run_chatd(["user", "add", admin, "--admin", "--data-dir", srv.data_dir], input="admin-password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in (local.user, local.user.upper(), admin):
            ws = await self.connect(srv)
            answer = await ws.hello(token=harness.make_jwt({"sub": name, "exp": int(time.time()) + 600}, SITE_SECRET))
            self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)
            self.assertIn("local account", answer.get("message", ""))
        # Site users still log in, and the local account by its password.
        site = harness.unique_name("site")
        ws = await self.connect(srv)
        await ws.login(token=harness.make_jwt({"sub": site, "exp": int(time.time()) + 600}, SITE_SECRET))
        ws = await self.connect(srv)
        await ws.login(user=local.user, password=local.password)

    async def test_site_users_may_be_local_allows_it(self):
        srv = self.start_server("--site-secret", SITE_SECRET, "--site-users-may-be-local", "true")
        local = srv.new_user("local")
        ws = await self.connect(srv)
        welcome = await ws.login(token=harness.make_jwt({"sub": local.user, "exp": int(time.time()) + 600},
                                                        SITE_SECRET))
        self.assertEqual(welcome["user"], local.user)


class NoSiteSecretTest(harness.AsyncChatdTestCase):
    async def test_jwt_refused_without_site_secret(self):
        srv = self.start_server()
        name = harness.unique_name("nosecret")
        token = harness.make_jwt({"sub": name, "exp": int(time.time()) + 600}, SITE_SECRET)
        ws = await self.connect(srv)
        answer = await ws.hello(token=token)
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)
        self.assertEqual(srv.register(name, "password-1").status, 201)


if __name__ == "__main__":
    harness.main()
