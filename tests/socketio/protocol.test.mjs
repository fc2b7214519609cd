// SPDX-License-Identifier: MIT
// The socket.io endpoint's HTTP side by hand, with fetch: the Engine.IO 3 and 4 handshakes,
// CORS for another origin, an unknown session id, and a polling session that is never picked up
// being freed.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { scoped, sleep } from './helpers.mjs';

const SITE = 'http://127.0.0.1:2999';

function get(server, query, headers = {}) {
  return fetch(server.url + 'socket.io/?' + query, { headers, signal: AbortSignal.timeout(5000) });
}

async function handshake4(server) {
  const r = await get(server, 'EIO=4&transport=polling');
  const body = await r.text();
  assert.equal(r.status, 200, body);
  assert.ok(body.startsWith('0{'), `not an open packet: ${body}`);
  return JSON.parse(body.slice(1));
}

// EIO 3's text payload: <length>:<packet>..., the length counted in characters.
function textPackets3(body) {
  const out = [];
  let i = 0;
  while (i < body.length) {
    const colon = body.indexOf(':', i);
    assert.ok(colon > i, `no length at ${i}: ${body}`);
    const n = Number(body.slice(i, colon));
    assert.ok(Number.isInteger(n) && n > 0, `bad length at ${i}: ${body}`);
    out.push(body.slice(colon + 1, colon + 1 + n));
    i = colon + 1 + n;
  }
  return out;
}

// EIO 3's binary payload (application/octet-stream): per packet 0 (text) or 1 (binary), the
// length's decimal digits as bytes 0-9, 255, then that many bytes.
function binaryPackets3(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    assert.ok(buf[i] === 0 || buf[i] === 1, `bad packet kind ${buf[i]} at ${i}`);
    let j = i + 1;
    let digits = '';
    while (buf[j] !== 255) {
      assert.ok(j < buf.length && buf[j] <= 9, `bad length digit at ${j}`);
      digits += buf[j++];
    }
    const n = Number(digits);
    out.push(buf[i] === 0 ? buf.subarray(j + 1, j + 1 + n).toString('utf8') : buf.subarray(j + 1, j + 1 + n));
    i = j + 1 + n;
  }
  return out;
}

// The packets of an EIO 3 poll answer, in either encoding (engine.io 1.x answered clients that
// read binary, as socket.io 1.x's XHR does, in the binary one; later versions in text unless
// there is binary data).
async function packets3(r) {
  const buf = Buffer.from(await r.arrayBuffer());
  const binary = (r.headers.get('content-type') || '').startsWith('application/octet-stream');
  const shown = binary ? JSON.stringify([...buf].slice(0, 40)) : buf.toString('utf8');
  return { packets: binary ? binaryPackets3(buf) : textPackets3(buf.toString('utf8')), binary, shown };
}

async function handshake3(server, extra = '') {
  const r = await get(server, 'EIO=3&transport=polling' + extra);
  const { packets, binary, shown } = await packets3(r);
  assert.equal(r.status, 200, shown);
  assert.ok(typeof packets[0] === 'string' && packets[0].startsWith('0{'), `not an open packet: ${shown}`);
  return { open: JSON.parse(packets[0].slice(1)), packets, binary, shown };
}

async function expectUnknownSid(r) {
  const body = await r.text();
  assert.equal(r.status, 400, body);
  assert.deepEqual(JSON.parse(body), { code: 1, message: 'Session ID unknown' });
}

describe('Engine.IO over HTTP', () => {
  scoped('EIO=4 handshake: 0{sid, upgrades, pingInterval, pingTimeout, maxPayload}', async (s) => {
    const server = await s.server();
    const open = await handshake4(server);
    assert.equal(typeof open.sid, 'string');
    assert.ok(open.sid.length > 0);
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, 25000);
    assert.equal(open.pingTimeout, 20000);
    assert.equal(typeof open.maxPayload, 'number');
    assert.ok(open.maxPayload > 0);

    // The namespace connect by hand: POST 40, the next poll answers 40{sid}.
    const post = await fetch(server.url + 'socket.io/?EIO=4&transport=polling&sid=' + encodeURIComponent(open.sid), {
      method: 'POST', body: '40', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, signal: AbortSignal.timeout(5000),
    });
    assert.equal(post.status, 200, await post.clone().text());
    assert.equal(await post.text(), 'ok');
    const poll = await get(server, 'EIO=4&transport=polling&sid=' + encodeURIComponent(open.sid));
    const body = await poll.text();
    assert.equal(poll.status, 200, body);
    assert.match(body, /^40\{"sid":"[^"]+"\}/, body);
  });

  scoped('EIO=3 handshake: NN:0{...} then 2:40 (b64=1: always text), the same packets without b64', async (s) => {
    const server = await s.server();
    const r = await get(server, 'EIO=3&transport=polling&b64=1');
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.match(body, /^\d+:0\{.*\}2:40$/, body);
    const packets = textPackets3(body);
    assert.equal(packets.length, 2, body);
    assert.equal(packets[1], '40');
    const open = JSON.parse(packets[0].slice(1));
    assert.equal(typeof open.sid, 'string');
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, 25000);
    assert.equal(open.pingTimeout, 20000);

    const plain = await handshake3(server);
    assert.deepEqual(plain.packets.slice(1), ['40'], plain.shown);
    assert.deepEqual(Object.keys(plain.open).sort(), Object.keys(open).sort());
  });

  scoped('the ping settings are the flags', async (s) => {
    const server = await s.server(['--socketio-ping-interval', '3', '--socketio-ping-timeout', '2']);
    const open = await handshake4(server);
    assert.equal(open.pingInterval, 3000);
    assert.equal(open.pingTimeout, 2000);
    const { open: open3 } = await handshake3(server);
    assert.equal(open3.pingInterval, 3000);
    assert.equal(open3.pingTimeout, 2000);
  });

  scoped('CORS: an allowed origin is reflected with credentials, a foreign one gets 403', async (s) => {
    const server = await s.server(['--allowed-origins', SITE]);
    for (const eio of [3, 4]) {
      const ok = await get(server, `EIO=${eio}&transport=polling`, { Origin: SITE });
      const body = await ok.text();
      assert.equal(ok.status, 200, body);
      assert.equal(ok.headers.get('access-control-allow-origin'), SITE);
      assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');

      const foreign = await get(server, `EIO=${eio}&transport=polling`, { Origin: 'http://evil.example' });
      await foreign.arrayBuffer();
      assert.equal(foreign.status, 403, `EIO=${eio}: a foreign origin got ${foreign.status}`);
      assert.notEqual(foreign.headers.get('access-control-allow-origin'), 'http://evil.example');
    }
  });

  scoped('an unknown sid gets 400 {"code":1,"message":"Session ID unknown"}', async (s) => {
    const server = await s.server();
    for (const eio of [3, 4]) {
      await expectUnknownSid(await get(server, `EIO=${eio}&transport=polling&sid=no-such-session`));
      await expectUnknownSid(await fetch(server.url + `socket.io/?EIO=${eio}&transport=polling&sid=no-such-session`, {
        method: 'POST', body: eio === 3 ? '1:2' : '2', signal: AbortSignal.timeout(5000),
      }));
    }
  });

  scoped('a polling session never picked up is freed after ping interval + timeout', async (s) => {
    const server = await s.server(['--socketio-ping-interval', '1', '--socketio-ping-timeout', '1']);
    const open4 = await handshake4(server);
    const { open: open3 } = await handshake3(server);
    await sleep(3500);
    await expectUnknownSid(await get(server, 'EIO=4&transport=polling&sid=' + encodeURIComponent(open4.sid)));
    await expectUnknownSid(await get(server, 'EIO=3&transport=polling&sid=' + encodeURIComponent(open3.sid)));
  });
});
