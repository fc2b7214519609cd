# SPDX-License-Identifier: MIT
"""The command line: version, user add/list/del/passwd (with and without a running server),
check-config, bad settings (exit 2, one line), config precedence flag > env > file."""
import asyncio
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def listed_users(output):
    """{name: admin?} from `chatd user list`."""
    users = {}
    for line in output.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1] in ("yes", "no"):
            users[parts[0]] = parts[1] == "yes"
    return users


def settings(output):
    """{key: raw value} from `chatd check-config`."""
    out = {}
    for line in output.splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def unquote(value):
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


class CliTestBase(harness.ChatdTestCase):
    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="chatd-e2e-cli-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def chatd(self, *args, input=None, env=None):
        return harness.run_chatd([str(a) for a in args], input=input, env=env)

    def assertUsageError(self, p, why):
        self.assertEqual(p.returncode, 2, (why, p))
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, "%s: expected one line on stderr, got %r" % (why, p.stderr))
        self.assertTrue(lines[0].strip(), why)
        self.assertNotIn("Traceback", p.stderr)


class VersionTest(CliTestBase):
    def test_version(self):
        p = self.chatd("version")
        self.assertEqual(p.returncode, 0, p)
        self.assertRegex(p.stdout.strip(), r"^chatd \d+\.\d+\.\d+\S*$")
        self.assertEqual(len(p.stdout.strip().splitlines()), 1)

    def test_help(self):
        p = self.chatd("--help")
        self.assertEqual(p.returncode, 0, p)
        for word in ("--listen", "--data-dir", "user", "check-config"):
            self.assertIn(word, p.stdout)


class UserCommandTest(CliTestBase):
    def test_user_add_then_login(self):
        data_dir = self.tmpdir()
        name = harness.unique_name("cli")
        p = self.chatd("--data-dir", data_dir, "user", "add", name, input="cli password 1\n")
        self.assertEqual(p.returncode, 0, p)
        self.assertNotIn("cli password 1", p.stdout + p.stderr)
        p = self.chatd("--data-dir", data_dir, "user", "list")
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(listed_users(p.stdout), {name: False}, p.stdout)
        srv = self.start_server(data_dir=data_dir)
        r = srv.login(name, "cli password 1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("user"), name)
        self.assertIs(r.json().get("admin"), False)
        self.assertEqual(srv.login(name, "cli password 2").status, 401)

    def test_user_add_admin(self):
        data_dir = self.tmpdir()
        p = self.chatd("--data-dir", data_dir, "user", "add", "boss", "--admin", input="boss password\n")
        self.assertEqual(p.returncode, 0, p)
        p = self.chatd("--data-dir", data_dir, "user", "add", "worker", input="worker password\n")
        self.assertEqual(p.returncode, 0, p)
        p = self.chatd("--data-dir", data_dir, "user", "list")
        self.assertEqual(listed_users(p.stdout), {"boss": True, "worker": False}, p.stdout)
        srv = self.start_server(data_dir=data_dir)
        self.assertIs(srv.login("boss", "boss password").json().get("admin"), True)
        self.assertIs(srv.login("worker", "worker password").json().get("admin"), False)

    def test_user_add_refusals(self):
        data_dir = self.tmpdir()
        self.assertEqual(self.chatd("--data-dir", data_dir, "user", "add", "taken", input="password 1\n").returncode, 0)
        cases = {
            "short password": (["user", "add", "shorty"], "1234567\n"),
            "no password": (["user", "add", "silent"], ""),
            "invalid name": (["user", "add", "no spaces"], "password 1\n"),
            "taken": (["user", "add", "taken"], "password 2\n"),
            "taken, other case": (["user", "add", "TAKEN"], "password 2\n"),
        }
        for why, (args, stdin) in cases.items():
            with self.subTest(why):
                p = self.chatd("--data-dir", data_dir, *args, input=stdin)
                self.assertNotEqual(p.returncode, 0, (why, p))
                self.assertTrue(p.stderr.strip(), why)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        p = self.chatd("--data-dir", data_dir, "user", "list")
        self.assertEqual(listed_users(p.stdout), {"taken": False}, p.stdout)
        # The refused "taken" kept its first password.
        srv = self.start_server(data_dir=data_dir)
        self.assertEqual(srv.login("taken", "password 1").status, 200)
        self.assertEqual(srv.login("taken", "password 2").status, 401)

    def test_user_del(self):
        data_dir = self.tmpdir()
        for name in ("keepme", "dropme"):
            p = self.chatd("--data-dir", data_dir, "user", "add", name, input="password 1\n")
            self.assertEqual(p.returncode, 0, p)
        p = self.chatd("--data-dir", data_dir, "user", "del", "dropme")
        self.assertEqual(p.returncode, 0, p)
        p = self.chatd("--data-dir", data_dir, "user", "list")
        self.assertEqual(listed_users(p.stdout), {"keepme": False}, p.stdout)
        p = self.chatd("--data-dir", data_dir, "user", "del", "dropme")
        self.assertNotEqual(p.returncode, 0, p)
        srv = self.start_server(data_dir=data_dir)
        self.assertEqual(srv.login("dropme", "password 1").status, 401)
        self.assertEqual(srv.login("keepme", "password 1").status, 200)

    def test_user_commands_while_the_server_runs(self):
        srv = self.start_server()
        name = harness.unique_name("live")
        p = self.chatd("--data-dir", srv.data_dir, "user", "add", name, input="live password\n")
        self.assertEqual(p.returncode, 0, p)
        r = srv.login(name, "live password")
        self.assertEqual(r.status, 200, r)
        token = r.json()["token"]
        # A user registered over HTTP shows in the list.
        web = srv.new_user("web")
        p = self.chatd("--data-dir", srv.data_dir, "user", "list")
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(listed_users(p.stdout), {name: False, web.user: False}, p.stdout)
        # passwd: the new password works, the old one and the old logins do not.
        p = self.chatd("--data-dir", srv.data_dir, "user", "passwd", name, input="new live password\n")
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(srv.login(name, "live password").status, 401)
        self.assertEqual(srv.login(name, "new live password").status, 200)
        async def hello(tok):
            ws = await harness.Ws.connect(srv.ws_url)
            try:
                return await ws.hello(token=tok)
            finally:
                await ws.close()
        answer = asyncio.run(hello(token))
        self.assertEqual((answer.get("type"), answer.get("code")), ("error", "unauthorized"), answer)
        # del: the user can no longer log in.
        p = self.chatd("--data-dir", srv.data_dir, "user", "del", name)
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(srv.login(name, "new live password").status, 401)
        self.assertEqual(srv.get("/healthz").status, 200)


class ConfigTest(CliTestBase):
    def write(self, text):
        d = self.tmpdir()
        path = os.path.join(d, "chatd.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def effective(self, *args, env=None):
        p = self.chatd("check-config", *args, env=env)
        self.assertEqual(p.returncode, 0, p)
        return settings(p.stdout)

    def test_check_config_prints_the_settings(self):
        s = self.effective("--listen", "127.0.0.1:7123", "--max-frame", "200000")
        self.assertEqual(unquote(s.get("listen", "")), "127.0.0.1:7123", s)
        self.assertEqual(s.get("max-frame"), "200000", s)
        self.assertIn("data-dir", s)

    def test_check_config_warns_about_trusting_bare_socketio_uids(self):
        p = self.chatd("check-config", "--socketio-trust-uid", "true")
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("# warning: socketio-trust-uid = true", p.stdout)
        self.assertIn("anyone", p.stdout)
        self.assertNotIn("# warning", self.chatd("check-config").stdout)
        # The socket.io listener is checked like the others.
        p = self.chatd("check-config", "--socketio-listen", "nowhere")
        self.assertEqual(p.returncode, 2, p)
        self.assertIn("socketio-listen", p.stderr)

    def test_bad_values_exit_2_with_one_line(self):
        cases = {
            "not a number": ["--max-frame", "abc"],
            "bad listen": ["--listen", "nowhere"],
            "port out of range": ["--listen", "127.0.0.1:70000"],
            "frame limit too small": ["--max-frame", "-5"],
            "bad registration": ["--registration", "sometimes"],
            "bad log level": ["--log-level", "loud"],
            "short site secret": ["--site-secret", "too-short"],
            "unknown flag": ["--no-such-flag", "1"],
        }
        for why, args in cases.items():
            for sub in (["check-config"], []):  # check-config and serve validate alike
                with self.subTest(why=why, sub=sub):
                    p = self.chatd(*(sub + ["--data-dir", self.tmpdir()] + args))
                    self.assertUsageError(p, why)
                    self.assertNotIn("serving on", p.stdout)

    def test_bad_value_from_the_environment_exits_2(self):
        p = self.chatd("check-config", env={"CHATD_MAX_FRAME": "lots"})
        self.assertUsageError(p, "env")
        p = self.chatd("check-config", env={"CHATD_LISTEN": "nowhere"})
        self.assertUsageError(p, "env listen")

    def test_config_file_with_unknown_key_exits_2(self):
        path = self.write('listen = "127.0.0.1:7001"\nno-such-setting = 5\n')
        p = self.chatd("check-config", "--config", path)
        self.assertUsageError(p, "unknown key")
        p = self.chatd("--config", path, "--data-dir", self.tmpdir())
        self.assertUsageError(p, "unknown key, serve")

    def test_config_file_with_bad_value_exits_2(self):
        p = self.chatd("check-config", "--config", self.write('max-frame = "big"\n'))
        self.assertUsageError(p, "bad value in file")
        p = self.chatd("check-config", "--config", self.write('listen = "nowhere"\n'))
        self.assertUsageError(p, "bad listen in file")

    def test_missing_config_file_exits_2(self):
        p = self.chatd("check-config", "--config", os.path.join(self.tmpdir(), "absent.conf"))
        self.assertUsageError(p, "missing file")

    def test_precedence_flag_over_env_over_file(self):
        path = self.write('listen = "127.0.0.1:7001"\nmax-frame = 100000\nauth-timeout = 7\n')
        env = {"CHATD_LISTEN": "127.0.0.1:7002", "CHATD_MAX_FRAME": "110000"}
        # file only
        s = self.effective("--config", path)
        self.assertEqual((unquote(s["listen"]), s["max-frame"], s["auth-timeout"]), ("127.0.0.1:7001", "100000", "7"))
        # env beats file
        s = self.effective("--config", path, env=env)
        self.assertEqual((unquote(s["listen"]), s["max-frame"], s["auth-timeout"]), ("127.0.0.1:7002", "110000", "7"))
        # flag beats env
        s = self.effective("--config", path, "--listen", "127.0.0.1:7003", env=env)
        self.assertEqual((unquote(s["listen"]), s["max-frame"], s["auth-timeout"]), ("127.0.0.1:7003", "110000", "7"))
        # env without a file, and the default when nothing is set
        s = self.effective(env={"CHATD_AUTH_TIMEOUT": "9"})
        self.assertEqual(s["auth-timeout"], "9")
        default = self.effective()
        self.assertNotEqual(default["auth-timeout"], "9")
        self.assertNotEqual(unquote(default["listen"]), "127.0.0.1:7001")

    def test_config_file_from_the_environment(self):
        path = self.write('auth-timeout = 6\n')
        s = self.effective(env={"CHATD_CONFIG": path})
        self.assertEqual(s["auth-timeout"], "6")
        p = self.chatd("check-config", env={"CHATD_CONFIG": path + ".absent"})
        self.assertUsageError(p, "CHATD_CONFIG names a missing file")

    def test_config_file_applies_to_the_server(self):
        data_dir = self.tmpdir()
        path = self.write('registration = "closed"\nmax-connections-per-ip = 0\n')
        srv = self.start_server("--config", path, data_dir=data_dir)
        self.assertIn("registration closed", srv.first_line)
        self.assertEqual(srv.register("nobody", "password 1").status, 403)
        # ... and a flag still beats the file.
        srv.close()
        srv2 = self.start_server("--config", path, "--registration", "open", data_dir=data_dir)
        self.assertIn("registration open", srv2.first_line)
        self.assertEqual(srv2.register("somebody", "password 1").status, 201)

    def test_check_config_output_reads_back_the_same(self):
        # What check-config prints is a config file that gives the same settings.
        for args in (["--listen", "127.0.0.1:7004"],
                     ["--allowed-origins", "http://a.example", "--allowed-origins", "http://b.example"]):
            with self.subTest(args=args):
                p = self.chatd("check-config", *args)
                self.assertEqual(p.returncode, 0, p)
                path = self.write(p.stdout)
                p2 = self.chatd("check-config", "--config", path)
                self.assertEqual(p2.returncode, 0, p2)
                self.assertEqual(settings(p2.stdout), settings(p.stdout))


if __name__ == "__main__":
    harness.main()
