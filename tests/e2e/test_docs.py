# SPDX-License-Identifier: MIT
"""docs/http-api.md works as written: every ```sh block runs against a real server (with CHATD
and KEY set, as the document says), the PHP and Node examples run with Debian's php and node
(the publish examples reach a user who has the page open; the login tokens they print log in),
and both webhook receivers take a correctly signed event and refuse a forged one; the PHP one
receives chatd's own webhooks."""
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "http-api.md")
SITE_SECRET = "change-me-to-32-or-more-random-characters"  # the examples' fallback, on purpose
WEBHOOK_SECRET = "change-me-to-16-or-more-characters"


def blocks(lang):
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```%s\n(.*?)^```$" % re.escape(lang), text, re.M | re.S)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, limit=10):
    deadline = time.monotonic() + harness.timeout(limit)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on port %d" % port)


def signed_post(port, body, secret, ts=None):
    ts = str(int(time.time()) if ts is None else ts)
    sig = "sha256=" + hmac.new(secret.encode(), (ts + "." + body).encode(), hashlib.sha256).hexdigest()
    return harness.http_call("POST", "http://127.0.0.1:%d/" % port, body=body,
                             headers={"X-Chatd-Timestamp": ts, "X-Chatd-Signature": sig,
                                      "Content-Type": "application/json"})


class DocsTest(harness.AsyncChatdTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.tmp = tempfile.mkdtemp(prefix="chatd-e2e-docs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # The PHP webhook receiver of the document, served by php's own web server.
        self.hook_port = free_port()
        hook = self.write("hook.php", [b for b in blocks("php") if "php://input" in b][0])
        self.php_log = os.path.join(self.tmp, "php-server.log")
        with open(self.php_log, "w") as log:
            self.php = subprocess.Popen(["php", "-S", "127.0.0.1:%d" % self.hook_port, hook], cwd=self.tmp,
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(self.stop, self.php)
        wait_port(self.hook_port)
        data_dir = self.temp_data_dir()
        p = harness.run_chatd(["--data-dir", data_dir, "apikey", "add", "mysite"])
        self.assertEqual(p.returncode, 0, p)
        self.key = p.stdout.strip()
        self.srv = self.start_server("--site-secret", SITE_SECRET, "--webhook-url",
                                     "http://127.0.0.1:%d/" % self.hook_port, "--webhook-secret", WEBHOOK_SECRET,
                                     data_dir=data_dir)
        self.env = dict(os.environ, CHATD=self.srv.url.rstrip("/"), KEY=self.key)
        # alice, who has the page open.
        alice = "alice"
        self.assertEqual(self.srv.register(alice, "alice-password").status, 201)
        r = self.srv.login(alice, "alice-password")
        self.alice = await self.connect(self.srv)
        await self.alice.login(token=r.json()["token"])

    def stop(self, proc):
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run_example(self, argv, why):
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=harness.timeout(30),
                           cwd=self.tmp, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, "%s failed:\n%s\n%s" % (why, p.stdout, p.stderr))
        return p.stdout

    async def test_every_curl_example_works_as_written(self):
        sh = blocks("sh")
        self.assertGreaterEqual(len(sh), 6)
        for n, block in enumerate(sh):
            out = self.run_example(["bash", "-euo", "pipefail", self.write("ex%d.sh" % n, block)], "sh block %d" % n)
            self.assertTrue(out.strip(), "sh block %d printed nothing" % n)
        # What they did reached alice's page.
        n = await self.alice.wait_for("notification", pred=lambda o: o["title"] == "Welcome")
        self.assertEqual(n["data"], {"url": "/"})
        await self.alice.wait_for("notification", pred=lambda o: o["text"] == "Hello from the old API")

    async def test_the_php_and_node_publish_examples(self):
        php = [b for b in blocks("php") if "api/publish" in b][0]
        out = self.run_example(["php", self.write("publish.php", php)], "the PHP publish example").splitlines()
        self.assertEqual(json.loads(out[0])["delivered"], {"alice": True})
        self.assertEqual(out[1], "ok")
        await self.alice.wait_for("notification", pred=lambda o: o["title"] == "New order")
        js = [b for b in blocks("js") if "api/publish" in b][0]
        out = self.run_example(["node", self.write("publish.mjs", js)], "the Node publish example")
        self.assertIn("alice: true", out)
        await self.alice.wait_for("notification", pred=lambda o: o["title"] == "New reply")

    async def test_the_token_examples_log_in(self):
        for lang, run in (("php", ["php"]), ("js", ["node"])):
            code = [b for b in blocks(lang) if "alg" in b and "HS256" in b][0]
            token = self.run_example(run + [self.write("token." + ("php" if lang == "php" else "mjs"), code)],
                                     lang + " token example").strip()
            ws = await self.connect(self.srv)
            welcome = await ws.hello(token=token)
            self.assertEqual((welcome.get("type"), welcome.get("user")), ("welcome", "eve@example.com"), lang)
            await ws.close()

    async def test_the_webhook_receivers_check_the_signature(self):
        # The PHP one gets chatd's own events (alice's user.online came when she logged in).
        def php_log():
            with open(self.php_log, encoding="utf-8", errors="replace") as f:
                return f.read()
        deadline = time.monotonic() + harness.timeout(10)
        while "user.online" not in php_log():
            self.assertLess(time.monotonic(), deadline, php_log())
            await asyncio.sleep(0.1)
        self.assertIn('chatd event 1: user.online {"user":"alice"}', php_log())
        node_port = free_port()
        js = [b for b in blocks("js") if "createServer" in b][0]
        with open(os.path.join(self.tmp, "node-server.log"), "w") as log:
            node = subprocess.Popen(["node", self.write("hook.mjs", js)], env=dict(self.env, PORT=str(node_port)),
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(self.stop, node)
        wait_port(node_port)
        body = json.dumps({"id": 5, "event": "user.offline", "created_at": 1, "data": {"user": "bob"}})
        for port in (self.hook_port, node_port):
            self.assertEqual(signed_post(port, body, WEBHOOK_SECRET).status, 204, port)
            self.assertEqual(signed_post(port, body, "a forged secret, long enough").status, 401, port)
            self.assertEqual(signed_post(port, body, WEBHOOK_SECRET, ts=int(time.time()) - 3600).status, 401, port)


if __name__ == "__main__":
    harness.main()
