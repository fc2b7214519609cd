# SPDX-License-Identifier: MIT
"""HTTP surface: /healthz, the page and its security headers, unknown paths, error shape,
cross-origin POSTs."""
import http.client
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class HttpTest(harness.ChatdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.start_class_server()

    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"), r.headers)
        body = r.json()
        self.assertIsInstance(body.get("error"), dict, body)
        self.assertEqual(body["error"].get("code"), code, body)
        self.assertIsInstance(body["error"].get("message"), str, body)
        self.assertTrue(body["error"]["message"], body)

    def test_healthz(self):
        r = self.srv.get("/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"), r.headers)
        self.assertEqual(r.json(), {"ok": True})

    def test_first_line_names_url_and_data_dir(self):
        self.assertIn(self.srv.url, self.srv.first_line)
        self.assertIn(os.path.realpath(self.srv.data_dir).rstrip("/"),
                      os.path.realpath(self.srv.first_line.split("(data in ", 1)[1].split(",", 1)[0]))
        self.assertTrue(self.srv.url.startswith("http://127.0.0.1:"), self.srv.url)
        self.assertGreater(self.srv.port, 0)

    def test_page_has_security_headers(self):
        r = self.srv.get("/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"), r.headers)
        self.assertGreater(len(r.body), 0)
        csp = r.headers.get("Content-Security-Policy")
        self.assertTrue(csp, "no content-security-policy header: %s" % dict(r.headers))
        self.assertIn("default-src", csp)
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")

    def test_json_answers_have_security_headers_too(self):
        r = self.srv.get("/healthz")
        self.assertTrue(r.headers.get("Content-Security-Policy"), dict(r.headers))
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")

    def test_unknown_path_is_404(self):
        r = self.srv.get("/no/such/page-%s" % os.urandom(4).hex())
        self.assertEqual(r.status, 404, r)

    def test_path_traversal_is_refused(self):
        for path in ("/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd"):
            r = self.srv.get(path)
            self.assertNotEqual(r.status, 200, (path, r))
            self.assertNotIn(b"root:", r.body, path)

    def test_unknown_api_is_404_json(self):
        r = self.srv.post("/api/no-such-thing", {"a": 1})
        self.assertError(r, 404, "not_found")

    def test_ws_path_without_upgrade_is_not_200(self):
        r = self.srv.get("/ws")
        self.assertNotEqual(r.status, 200, r)
        self.assertGreaterEqual(r.status, 400, r)

    def test_login_errors_are_json(self):
        r = self.srv.post("/api/login", b"this is not json", headers={"Content-Type": "application/json"})
        self.assertError(r, 400, "bad_request")
        r = self.srv.post("/api/login", {"user": "nobody-" + os.urandom(4).hex(), "password": "wrong-password"})
        self.assertError(r, 401, "unauthorized")

    def test_cross_origin_post_is_refused(self):
        name = harness.unique_name("xo")
        r = self.srv.post("/api/register", {"user": name, "password": "password-1"},
                          headers={"Origin": "http://evil.example"})
        self.assertError(r, 403, "forbidden")
        # Refused, so not registered: the same request without a foreign Origin succeeds.
        r = self.srv.post("/api/register", {"user": name, "password": "password-1"})
        self.assertEqual(r.status, 201, r)
        r = self.srv.post("/api/login", {"user": name, "password": "password-1"},
                          headers={"Origin": "http://evil.example"})
        self.assertError(r, 403, "forbidden")
        self.assertIsNone(harness.cookie_from(r))
        # The page's own origin is fine.
        r = self.srv.post("/api/login", {"user": name, "password": "password-1"},
                          headers={"Origin": self.srv.origin})
        self.assertEqual(r.status, 200, r)

    def test_oversized_body_is_refused(self):
        big = json.dumps({"user": "x", "password": "p" * (200 * 1024)})
        r = self.srv.post("/api/login", big, headers={"Content-Type": "application/json"})
        self.assertError(r, 413, "too_large")
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def raw_http(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=harness.T_ANSWER)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_head_gives_the_length_of_the_page_and_no_body(self):
        status, headers, body = self.raw_http("GET", "/")
        self.assertEqual(status, 200)
        h_status, h_headers, h_body = self.raw_http("HEAD", "/")
        self.assertEqual(h_status, 200)
        self.assertEqual(h_body, b"")
        self.assertEqual(int(h_headers["content-length"]), len(body))
        self.assertEqual(h_headers.get("etag"), headers.get("etag"))
        _, js_headers, js = self.raw_http("GET", "/app.js")
        _, h_js, _ = self.raw_http("HEAD", "/app.js")
        self.assertEqual(int(h_js["content-length"]), len(js))

    def test_chunked_post_body_is_refused_clearly_not_read_as_empty(self):
        # The whole request in one write: the server answers and then closes the connection.
        chunks = [b'{"user":"nobody",', b'"password":"wrong-password"}']
        request = (b"POST /api/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" % self.srv.host.encode())
        request += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        with socket.create_connection((self.srv.host, self.srv.port), timeout=harness.T_ANSWER) as sock:
            sock.sendall(request)
            r = http.client.HTTPResponse(sock)
            r.begin()
            status, body = r.status, r.read()
        self.assertEqual(status, 411, body)
        error = json.loads(body)["error"]
        self.assertEqual(error["code"], "bad_request")
        self.assertIn("Content-Length", error["message"])
        self.assertEqual(self.srv.get("/healthz").status, 200)


if __name__ == "__main__":
    harness.main()
