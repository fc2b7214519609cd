// SPDX-License-Identifier: MIT
// chatd's socket.io endpoint against the real clients from npm, every case once with
// socket.io-client 2.x (Engine.IO 3, what web-msg-sender's pages spoke) and once with 4.x
// (Engine.IO 4): log in with a site token, web-msg-sender's plain uid (refused unless trusted),
// notifications from /push and /api/publish escaped as htmlspecialchars does, the online count,
// offline messages at the next login, each transport and the upgrade, pings, and reconnecting
// after a server restart.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  GENERATIONS, ONLINE_RE, onlineText, escapeHtml, siteToken, push, freePort, sleep, scoped,
} from './helpers.mjs';

const HOSTILE = `<b>"x"&'y'</b>`;
const HOSTILE_ESCAPED = '&lt;b&gt;&quot;x&quot;&amp;&#039;y&#039;&lt;/b&gt;';
const UNICODE = '中文消息 😀 ü – ok';

async function loggedIn(c, user) {
  await c.take('connect');
  const ack = await c.take('login_ack');
  assert.equal(ack?.ok, true, `login refused: ${JSON.stringify(ack)}`);
  assert.equal(ack.user, String(user));
}

function numbers(text) {
  const m = ONLINE_RE.exec(text);
  assert.ok(m, `not web-msg-sender's online text: ${JSON.stringify(text)}`);
  return { users: Number(m[1]), pages: Number(m[2]) };
}

const TRANSPORTS = {
  'polling only': ['polling'],
  'websocket only': ['websocket'],
  'the default (polling, then the upgrade)': undefined,
};

for (const gen of GENERATIONS) {
  describe(gen.name, () => {
    scoped('connects, logs in with a site token and gets the online count at once', async (s) => {
      const server = await s.server();
      const c = s.client(gen, server.url, { login: siteToken('1001') });
      await loggedIn(c, '1001');
      assert.equal(await c.take('update_online_count'), onlineText(1, 1));
    });

    scoped('logs in with {token: JWT}', async (s) => {
      const server = await s.server();
      const c = s.client(gen, server.url, { login: { token: siteToken('1002') } });
      await loggedIn(c, '1002');
      assert.equal(await c.take('update_online_count'), onlineText(1, 1));
    });

    scoped('a /push POST (form body, as PHP curl sends it) arrives as new_msg', async (s) => {
      const server = await s.server();
      const key = server.apiKey('site');
      const c = s.client(gen, server.url, { login: siteToken('1003') });
      await loggedIn(c, '1003');
      assert.deepEqual(await push(server, key, { to: '1003', content: 'hello from PHP' }), { status: 200, text: 'ok' });
      assert.equal(await c.take('new_msg'), 'hello from PHP');
      assert.deepEqual(await push(server, key, { to: '1003', content: 'key in a header' }, { bearer: true }),
                       { status: 200, text: 'ok' });
      assert.equal(await c.take('new_msg'), 'key in a header');
      assert.equal((await push(server, key, { type: 'other', to: '1003', content: 'x' })).text, 'fail');
      await c.quiet('new_msg', 1000);
    });

    scoped('a /push with an empty or no `to` reaches everyone', async (s) => {
      const server = await s.server();
      const key = server.apiKey('site');
      const a = s.client(gen, server.url, { login: siteToken('1004'), label: 'a' });
      const b = s.client(gen, server.url, { login: siteToken('1005'), label: 'b' });
      await loggedIn(a, '1004');
      await loggedIn(b, '1005');
      assert.deepEqual(await push(server, key, { to: '', content: 'to everyone' }), { status: 200, text: 'ok' });
      assert.equal(await a.take('new_msg'), 'to everyone');
      assert.equal(await b.take('new_msg'), 'to everyone');
      assert.deepEqual(await push(server, key, { content: 'no to at all' }), { status: 200, text: 'ok' });
      assert.equal(await a.take('new_msg'), 'no to at all');
      assert.equal(await b.take('new_msg'), 'no to at all');
    });

    scoped('/api/publish arrives as new_msg', async (s) => {
      const server = await s.server();
      const key = server.apiKey('site');
      const c = s.client(gen, server.url, { login: siteToken('1006') });
      await loggedIn(c, '1006');
      const answer = await server.publish(key, { to: '1006', text: 'from /api/publish' });
      assert.deepEqual(answer.delivered, { 1006: true });
      assert.equal(await c.take('new_msg'), 'from /api/publish');
    });

    scoped('the text is escaped as htmlspecialchars(ENT_QUOTES) does, from every source', async (s) => {
      assert.equal(escapeHtml(HOSTILE), HOSTILE_ESCAPED);
      const server = await s.server();
      const key = server.apiKey('site');
      const c = s.client(gen, server.url, { login: siteToken('1007') });
      await loggedIn(c, '1007');
      assert.equal((await push(server, key, { to: '1007', content: HOSTILE })).text, 'ok');
      assert.equal(await c.take('new_msg'), HOSTILE_ESCAPED);
      await server.publish(key, { to: '1007', text: HOSTILE });
      assert.equal(await c.take('new_msg'), HOSTILE_ESCAPED);
      const img = '<img src=x onerror=alert(1)>';
      assert.equal((await push(server, key, { to: '1007', content: img })).text, 'ok');
      assert.equal(await c.take('new_msg'), '&lt;img src=x onerror=alert(1)&gt;');
    });

    scoped('a chat message from a chatd user (/ws) arrives as new_msg, escaped', async (s) => {
      const server = await s.server();
      const c = s.client(gen, server.url, { login: siteToken('1008') });
      await loggedIn(c, '1008');
      const alice = await s.ws(server, siteToken('alice'));
      await alice.send('1008', HOSTILE);
      assert.equal(await c.take('new_msg'), HOSTILE_ESCAPED);
    });

    scoped('update_online_count follows a second user in and out, one page per socket', async (s) => {
      const server = await s.server();
      const a = s.client(gen, server.url, { login: siteToken('2001'), label: 'a' });
      await loggedIn(a, '2001');
      assert.equal(await a.take('update_online_count'), onlineText(1, 1));

      const b = s.client(gen, server.url, { login: siteToken('2002'), label: 'b' });
      await loggedIn(b, '2002');
      assert.equal(await b.take('update_online_count'), onlineText(2, 2));
      await a.take('update_online_count', { ms: 4000, match: (t) => t === onlineText(2, 2), what: 'the count with b in' });
      b.close();
      await a.take('update_online_count', { ms: 4000, match: (t) => t === onlineText(1, 1), what: 'the count with b gone' });

      // A second page of the same user: one user, two pages.
      const a2 = s.client(gen, server.url, { login: siteToken('2001'), label: 'a2' });
      await loggedIn(a2, '2001');
      assert.equal(await a2.take('update_online_count'), onlineText(1, 2));
      await a.take('update_online_count', { ms: 4000, match: (t) => t === onlineText(1, 2), what: "the count with a's second page" });

      // A user of chatd's own page (/ws) counts as a user online too.
      const alice = await s.ws(server, siteToken('alice'));
      const withAlice = await a.take('update_online_count', { ms: 4000, match: (t) => numbers(t).users === 2,
                                                              what: 'the count with a /ws user in' });
      assert.ok(numbers(withAlice).pages >= 2, withAlice);
      alice.close();
      await a.take('update_online_count', { ms: 4000, match: (t) => t === onlineText(1, 2), what: 'the count with the /ws user gone' });

      // Broadcasts (everything after the answer to the login) come at most once a second.
      const times = a.events.filter((e) => e.name === 'update_online_count').slice(1).map((e) => e.at);
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i] - times[i - 1] >= 800, `two updates ${times[i] - times[i - 1]} ms apart: ${a.summary()}`);
      }
    });

    scoped('messages sent while offline arrive at the next login, in order, and only once', async (s) => {
      const server = await s.server();
      const key = server.apiKey('site');
      assert.deepEqual(await push(server, key, { to: '3001', content: 'first' }), { status: 200, text: 'error' });
      const queued = await server.publish(key, { to: '3001', text: 'second <2>', create: true });
      assert.deepEqual(queued.queued, ['3001']);
      assert.deepEqual(await push(server, key, { to: '3001', content: 'third' }), { status: 200, text: 'error' });

      const c = s.client(gen, server.url, { login: siteToken('3001'), label: 'first login' });
      await loggedIn(c, '3001');
      assert.equal(await c.take('new_msg'), 'first');
      assert.equal(await c.take('new_msg'), 'second &lt;2&gt;');
      assert.equal(await c.take('new_msg'), 'third');
      await c.quiet('new_msg', 1000);
      c.close();
      await sleep(500);

      const again = s.client(gen, server.url, { login: siteToken('3001'), label: 'second login' });
      await loggedIn(again, '3001');
      await again.quiet('new_msg', 1500);
    });

    for (const [name, transports] of Object.entries(TRANSPORTS)) {
      const only = transports ? { transports } : {};
      scoped(`a plain uid is refused without socketio-trust-uid: login_error, then the server disconnects (${name})`, async (s) => {
        const server = await s.server();
        const c = s.client(gen, server.url, { login: 1445590039000, ...only });
        await c.take('connect');
        const ack = await c.take('login_ack');
        assert.equal(ack?.ok, false, JSON.stringify(ack));
        assert.equal(ack.code, 'unauthorized');
        assert.equal(typeof ack.message, 'string');
        const error = await c.take('login_error');
        assert.equal(error?.code, 'unauthorized', JSON.stringify(error));
        assert.equal(typeof error.message, 'string');
        assert.equal(await c.take('disconnect'), 'io server disconnect');
        await c.quiet('connect', 1500);  // and it does not come back by itself
        await c.quiet('update_online_count', 0);
      });

      scoped(`a token signed with another secret, or expired, is refused the same way (${name})`, async (s) => {
        const server = await s.server();
        for (const [label, token] of [['wrong secret', siteToken('3002', { secret: 'another-secret-of-32-characters-or-more' })],
                                      ['expired', siteToken('3002', { expIn: -60 })]]) {
          const c = s.client(gen, server.url, { login: token, label, ...only });
          await c.take('connect');
          assert.equal((await c.take('login_ack'))?.ok, false);
          assert.equal((await c.take('login_error'))?.code, 'unauthorized');
          assert.equal(await c.take('disconnect'), 'io server disconnect');
        }
      });
    }

    scoped('with socketio-trust-uid a plain uid logs in, web-msg-sender style', async (s) => {
      const server = await s.server(['--socketio-trust-uid', 'true']);
      const key = server.apiKey('site');
      const n = s.client(gen, server.url, { login: 1445590039000, label: 'number uid' });
      await loggedIn(n, '1445590039000');
      assert.equal(await n.take('update_online_count'), onlineText(1, 1));
      assert.equal((await push(server, key, { to: '1445590039000', content: 'to a numeric uid' })).text, 'ok');
      assert.equal(await n.take('new_msg'), 'to a numeric uid');

      const str = s.client(gen, server.url, { login: 'user-42', label: 'string uid' });
      await loggedIn(str, 'user-42');
      assert.equal((await push(server, key, { to: 'user-42', content: 'to a string uid' })).text, 'ok');
      assert.equal(await str.take('new_msg'), 'to a string uid');

      const tok = s.client(gen, server.url, { login: { token: siteToken('3003') }, label: 'token' });
      await loggedIn(tok, '3003');
    });

    scoped('a second login on a logged-in socket is ignored', async (s) => {
      const server = await s.server();
      const key = server.apiKey('site');
      const c = s.client(gen, server.url, { login: siteToken('4001') });
      await loggedIn(c, '4001');
      c.socket.emit('login', siteToken('4002'));
      await c.quiet('login_error', 1000);
      await c.quiet('disconnect', 0);
      assert.equal((await push(server, key, { to: '4001', content: 'still 4001' })).text, 'ok');
      assert.equal(await c.take('new_msg'), 'still 4001');
      assert.equal((await push(server, key, { to: '4002', content: 'not here' })).text, 'error');
      await c.quiet('new_msg', 500);
    });

    for (const [name, transports] of Object.entries(TRANSPORTS)) {
      scoped(`transport: ${name}`, async (s) => {
        const server = await s.server();
        const key = server.apiKey('site');
        const c = s.client(gen, server.url, { login: siteToken('5001'), ...(transports ? { transports } : {}) });
        await loggedIn(c, '5001');
        assert.equal(await c.take('update_online_count'), onlineText(1, 1));
        if (transports) assert.equal(c.transport, transports[0]);
        assert.equal((await push(server, key, { to: '5001', content: UNICODE })).text, 'ok');
        assert.equal(await c.take('new_msg'), UNICODE);
        if (!transports) {
          await c.waitTransport('websocket');
          assert.equal((await push(server, key, { to: '5001', content: 'after the upgrade ' + UNICODE })).text, 'ok');
          assert.equal(await c.take('new_msg'), 'after the upgrade ' + UNICODE);
        } else {
          await sleep(1000);
          assert.equal(c.transport, transports[0], 'the transport changed though only one was allowed');
        }
        // A burst: several notifications in one poll (or frame run), none lost, in order.
        const texts = Array.from({ length: 5 }, (_, i) => `burst ${i} ${UNICODE}`);
        for (const t of texts) assert.equal((await push(server, key, { to: '5001', content: t })).text, 'ok');
        for (const t of texts) assert.equal(await c.take('new_msg'), t);
        await c.quiet('disconnect', 0);
      });
    }

    for (const [name, transports] of Object.entries(TRANSPORTS)) {
      scoped(`stays connected across pings (interval 1 s, timeout 1 s): ${name}`, async (s) => {
        const server = await s.server(['--socketio-ping-interval', '1', '--socketio-ping-timeout', '1']);
        const key = server.apiKey('site');
        const c = s.client(gen, server.url, { login: siteToken('5002'), ...(transports ? { transports } : {}) });
        await loggedIn(c, '5002');
        await c.quiet('disconnect', 4500);
        assert.equal((await push(server, key, { to: '5002', content: 'after the pings' })).text, 'ok');
        assert.equal(await c.take('new_msg'), 'after the pings');
      });
    }

    for (const [name, transports] of Object.entries(TRANSPORTS)) {
      scoped(`reconnects by itself after a server restart and logs in again: ${name}`, async (s) => {
        const server = await s.server();
        const key = server.apiKey('site');
        const c = s.client(gen, server.url, { login: siteToken('6001'), ...(transports ? { transports } : {}) });
        await loggedIn(c, '6001');
        if (!transports) await c.waitTransport('websocket');
        await server.stop();
        await c.take('disconnect', { what: 'disconnect when the server stopped' });
        await sleep(300);
        await server.start();
        await c.take('connect', { ms: 15000, what: 'connect after the restart' });
        const ack = await c.take('login_ack');
        assert.equal(ack?.ok, true, JSON.stringify(ack));
        assert.equal((await push(server, key, { to: '6001', content: 'after the restart' })).text, 'ok');
        assert.equal(await c.take('new_msg'), 'after the restart');
      }, { timeout: 45000 });
    }

    scoped('the online text follows socketio-online-text', async (s) => {
      const server = await s.server(['--socketio-online-text', '{users} online, {pages} pages']);
      const c = s.client(gen, server.url, { login: siteToken('7001') });
      await loggedIn(c, '7001');
      assert.equal(await c.take('update_online_count'), '1 online, 1 pages');
    });

    scoped('a listener of its own (socketio-listen), as web-msg-sender had on 2120', async (s) => {
      const port = await freePort();
      const server = await s.server(['--socketio-listen', `127.0.0.1:${port}`]);
      const key = server.apiKey('site');
      const c = s.client(gen, `http://127.0.0.1:${port}/`, { login: siteToken('7002') });
      await loggedIn(c, '7002');
      assert.equal(await c.take('update_online_count'), onlineText(1, 1));
      assert.equal((await push(server, key, { to: '7002', content: 'via the other port' })).text, 'ok');
      assert.equal(await c.take('new_msg'), 'via the other port');
    });

    scoped('the token in the connect auth logs in at connect (socket.io 3 and later)', async (s) => {
      const server = await s.server();
      const key = server.apiKey('site');
      const c = s.client(gen, server.url, { auth: { token: siteToken('8001') } });
      await c.take('connect');
      assert.equal(await c.take('update_online_count'), onlineText(1, 1));
      assert.equal((await push(server, key, { to: '8001', content: 'logged in at connect' })).text, 'ok');
      assert.equal(await c.take('new_msg'), 'logged in at connect');
    }, { skip: gen.major < 3 && 'socket.io 2 has no connect auth' });
  });
}
