// SPDX-License-Identifier: MIT
//
// The reference peer: a small chat relay written the way chat servers used to be written (one
// Node.js process, the `ws` package, one socket write per delivery, nothing stored). It speaks
// enough of chatd's protocol for the same load generator to drive it. Each message is encoded
// once and the same bytes are handed to every recipient's socket.
//
//
//   hello (HS256 site token) -> welcome + live     ping, who -> ok
//   send to a user  -> ok at once, message to the recipient's sockets and the sender's others
//   send to a room  -> ok at once, message to every member's sockets but the sending one
//   join / leave    -> ok                          ack, read, typing: ignored
//   history and anything else -> error bad_request (there is no storage)
//
// A message for a user with no open socket is dropped (and still answered ok): that is what
// "no persistence" means, and why the offline scenarios have no peer figures.
//
//   node peer.js --listen 127.0.0.1:0 --site-secret SECRET
//
// The first line on stdout is "peer serving on http://ADDR:PORT/ ...", like chatd's.
// Needs the `ws` package (Debian: node-ws; NODE_PATH must include its directory).
'use strict';

const crypto = require('crypto');
const http = require('http');
const { WebSocketServer } = require('ws');

function parseArgs(argv) {
  const out = { listen: '127.0.0.1:8090', secret: process.env.CHATD_SITE_SECRET || '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--listen') out.listen = next();
    else if (a === '--site-secret') out.secret = next();
    else throw new Error(`unknown option ${a}`);
  }
  return out;
}

// HS256 site token -> user name, or null.
function verifyToken(token, secret, nowS) {
  if (typeof token !== 'string' || !secret) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const mac = crypto.createHmac('sha256', secret).update(parts[0] + '.' + parts[1]).digest();
  const sig = Buffer.from(parts[2], 'base64url');
  if (sig.length !== mac.length || !crypto.timingSafeEqual(sig, mac)) return null;
  let header, claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  } catch (e) {
    return null;
  }
  if (header.alg !== 'HS256' || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return null;
  if (claims.exp <= nowS) return null;
  return claims.sub;
}

const options = parseArgs(process.argv.slice(2));
const users = new Map(); // user name -> Set of sockets
const rooms = new Map(); // room name -> Set of user names
let lastMid = 0;

function reply(ws, obj) {
  ws.send(JSON.stringify(obj));
}

function error(ws, re, code, message) {
  const obj = { type: 'error', code, message };
  if (re !== undefined) obj.re = re;
  reply(ws, obj);
}

// `frame` is the message encoded once (a Buffer) and sent as a text frame to every socket.
function deliver(user, frame, except) {
  const sockets = users.get(user);
  if (!sockets) return;
  for (const s of sockets) if (s !== except) s.send(frame, { binary: false });
}

function onRequest(ws, req) {
  const re = req.id;
  if (req.type === 'hello') {
    if (ws.user) return error(ws, re, 'conflict', 'already logged in');
    const user = verifyToken(req.token, options.secret, Math.floor(Date.now() / 1000));
    if (!user) return error(ws, re, 'unauthorized', 'bad token');
    ws.user = user;
    if (!users.has(user)) users.set(user, new Set());
    users.get(user).add(ws);
    const welcome = { type: 'welcome', re, user, device: req.device || 'web', rooms: [], online: [], unread: {} };
    ws.send(JSON.stringify(welcome) + '\n' + JSON.stringify({ type: 'live', mid: lastMid }));
    return;
  }
  if (req.type === 'ping') return reply(ws, { type: 'ok', re });
  if (!ws.user) return error(ws, re, 'unauthorized', 'send a hello first');
  switch (req.type) {
    case 'send': {
      if (typeof req.text !== 'string') return error(ws, re, 'bad_request', 'text is required');
      const mid = ++lastMid;
      const ts = Date.now();
      if (typeof req.room === 'string') {
        const members = rooms.get(req.room);
        if (!members || !members.has(ws.user)) return error(ws, re, 'forbidden', 'not a member');
        const frame = Buffer.from(JSON.stringify({ type: 'message', mid, from: ws.user, room: req.room, text: req.text, ts }));
        reply(ws, { type: 'ok', re, mid, ts });
        for (const member of members) deliver(member, frame, ws);
        return;
      }
      if (typeof req.to !== 'string') return error(ws, re, 'bad_request', 'to or room is required');
      const frame = Buffer.from(JSON.stringify({ type: 'message', mid, from: ws.user, to: req.to, text: req.text, ts }));
      reply(ws, { type: 'ok', re, mid, ts });
      deliver(req.to, frame, null);
      if (req.to !== ws.user) deliver(ws.user, frame, ws);
      return;
    }
    case 'join':
    case 'leave': {
      if (typeof req.room !== 'string') return error(ws, re, 'bad_request', 'room is required');
      if (req.type === 'join') {
        if (!rooms.has(req.room)) rooms.set(req.room, new Set());
        rooms.get(req.room).add(ws.user);
      } else if (rooms.has(req.room)) {
        rooms.get(req.room).delete(ws.user);
      }
      return reply(ws, { type: 'ok', re });
    }
    case 'who':
      return reply(ws, { type: 'ok', re, users: [...users.keys()].slice(0, 500).map((u) => ({ user: u, devices: users.get(u).size })), count: users.size });
    case 'ack':
    case 'read':
    case 'typing':
      return;
    default:
      return error(ws, re, 'bad_request', `'${req.type}' is not supported by the reference peer`);
  }
}

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});
const wss = new WebSocketServer({
  server,
  path: '/ws',
  clientTracking: false,
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
  handleProtocols: (protocols) => (protocols.has('chatd.v1') ? 'chatd.v1' : false),
});

wss.on('connection', (ws) => {
  ws.user = null;
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'binary frames are not supported');
    for (const line of data.toString().split('\n')) {
      if (!line) continue;
      let req;
      try {
        req = JSON.parse(line);
      } catch (e) {
        return ws.close(1007, 'not JSON');
      }
      if (!req || typeof req.type !== 'string') return error(ws, undefined, 'bad_request', 'type is required');
      onRequest(ws, req);
    }
  });
  ws.on('close', () => {
    if (!ws.user) return;
    const sockets = users.get(ws.user);
    if (sockets) {
      sockets.delete(ws);
      if (sockets.size === 0) users.delete(ws.user);
    }
  });
  ws.on('error', () => {});
});

const colon = options.listen.lastIndexOf(':');
const host = options.listen.slice(0, colon);
const port = Number(options.listen.slice(colon + 1));
server.listen({ host, port, backlog: 4096 }, () => {
  const addr = server.address();
  process.stdout.write(`peer serving on http://${addr.address}:${addr.port}/ (reference peer, no persistence)\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
