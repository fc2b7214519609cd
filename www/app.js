// SPDX-License-Identifier: MIT
// The chat page. Everything that came from the server or a user goes into the page as text
// (textContent / text nodes): never as HTML.
import { ChatClient, api } from './client.js';

const $ = (id) => document.getElementById(id);
const client = new ChatClient();

const state = {
  me: null,
  admin: false,
  convs: new Map(),   // key ("bob", "#general", "!notifications") -> conversation
  online: new Set(),  // lower-case names
  current: null,
  typingTimers: new Map(),
  lastTypingSent: 0,
  // The "!notifications" feed: the site's notifications and broadcasts, behind the bell.
  feed: { items: new Map(), unread: 0, loaded: false, more: false, open: false },
};

// --- small helpers -------------------------------------------------------------------------

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function showBanner(text) {
  $('banner-text').textContent = text;
  $('banner').hidden = false;
}
$('banner-close').addEventListener('click', () => { $('banner').hidden = true; });

function errorText(err) {
  if (!err) return 'Something went wrong.';
  return err.message || err.code || String(err);
}

// Message text as text nodes, with http(s) links as real links (built, not parsed as HTML).
function renderText(container, text) {
  const re = /\bhttps?:\/\/[^\s<>"'`]+/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) container.append(document.createTextNode(text.slice(last, m.index)));
    const a = el('a', null, m[0]);
    a.href = m[0];
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    container.append(a);
    last = m.index + m[0].length;
  }
  if (last < text.length) container.append(document.createTextNode(text.slice(last)));
}

function timeOf(ts) {
  const d = new Date(ts);
  const now = new Date();
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === now.toDateString() ? hm : d.toLocaleDateString() + ' ' + hm;
}

// --- conversations -------------------------------------------------------------------------

function convKeyOf(msg) {
  if (msg.room) return '#' + msg.room;
  if (msg.to === '*') return '!notifications';
  return msg.from.toLowerCase() === state.me.toLowerCase() ? msg.to : msg.from;
}

function conv(key, create = true) {
  const id = key.toLowerCase();
  let c = state.convs.get(id);
  if (!c && create) {
    const kind = key.startsWith('#') ? 'room' : key === '!notifications' ? 'feed' : 'user';
    c = { key, id, kind, name: kind === 'room' ? key.slice(1) : key, messages: new Map(), unread: 0,
          loaded: false, more: false, lastMid: 0, members: 0, isPrivate: false };
    state.convs.set(id, c);
  }
  return c;
}

function targetOf(c) {
  if (c.kind === 'room') return { room: c.name };
  if (c.kind === 'feed') return { to: '*' };
  return { to: c.name };
}

function renderConversations() {
  const list = $('conversations');
  list.replaceChildren();
  const convs = [...state.convs.values()].sort((a, b) => (b.lastMid - a.lastMid) || a.name.localeCompare(b.name));
  for (const c of convs) {
    const li = el('li');
    const b = el('button', 'item' + (c.id === state.current ? ' active' : ''));
    b.type = 'button';
    const label = el('span', 'label', c.kind === 'room' ? '#' + c.name : c.kind === 'feed' ? 'Announcements' : c.name);
    b.append(label);
    if (c.kind === 'user') b.prepend(el('span', 'presence' + (state.online.has(c.id) ? ' on' : '')));
    if (c.isPrivate) b.append(el('span', 'muted small', ' private'));
    if (c.unread > 0 && c.kind !== 'feed') b.append(el('span', 'count', String(c.unread > 999 ? '999+' : c.unread)));
    b.addEventListener('click', () => open(c.key));
    li.append(b);
    list.append(li);
  }
  const total = convs.reduce((n, c) => n + (c.kind === 'feed' ? 0 : c.unread), 0) + state.feed.unread;
  document.title = (total > 0 ? '(' + total + ') ' : '') + 'chatd';
}

function renderOnline(users) {
  const list = $('online');
  list.replaceChildren();
  $('online-count').textContent = users.length ? '(' + users.length + ')' : '';
  for (const u of users) {
    const li = el('li');
    const b = el('button', 'item');
    b.type = 'button';
    b.append(el('span', 'presence on'), el('span', 'label', u.user));
    if (u.user.toLowerCase() === state.me.toLowerCase()) b.append(el('span', 'muted small', ' (you)'));
    else if (u.devices > 1) b.append(el('span', 'muted small', ' ' + u.devices + ' devices'));
    b.addEventListener('click', () => open(u.user));
    li.append(b);
    list.append(li);
  }
}

async function refreshWho() {
  if (!client.live) return;
  try {
    const r = await client.request({ type: 'who' });
    state.online = new Set(r.users.map((u) => u.user.toLowerCase()));
    renderOnline(r.users);
    renderConversations();
  } catch { /* next round */ }
}

// --- messages ------------------------------------------------------------------------------

function messageNode(msg) {
  const li = el('li', 'msg');
  li.dataset.mid = msg.mid || '';
  if (msg.from && msg.from.toLowerCase() === state.me.toLowerCase()) li.classList.add('mine');
  const head = el('div', 'meta');
  head.append(el('span', 'from', msg.from || state.me));
  head.append(el('time', 'time', msg.ts ? timeOf(msg.ts) : ''));
  const body = el('div', 'text');
  renderText(body, msg.text || '');
  li.append(head, body);
  return li;
}

function insertMessage(c, msg) {
  if (c.messages.has(msg.mid)) return false;
  c.messages.set(msg.mid, msg);
  c.lastMid = Math.max(c.lastMid, msg.mid);
  if (state.current !== c.id) return true;
  const list = $('message-list');
  const node = messageNode(msg);
  // Keep mid order (history pages arrive older-first, live messages at the end).
  let before = null;
  for (const child of list.children) {
    const mid = Number(child.dataset.mid || Infinity);
    if (mid > msg.mid) { before = child; break; }
  }
  list.insertBefore(node, before);
  return true;
}

function scrollToEnd() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

function nearEnd() {
  const box = $('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

let readTimer = null;
function markRead(c) {
  if (!c || c.lastMid === 0 || document.hidden) return;
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const req = { type: 'read', upto: c.lastMid };
    if (c.kind === 'room') req.room = c.name;
    else if (c.kind === 'feed') req.room = '!notifications';
    else req.with = c.name;
    client.notify(req);
    c.unread = 0;
    if (c.kind === 'feed') setFeedUnread(0);
    renderConversations();
  }, 300);
}

async function loadHistory(c, before) {
  const req = { type: 'history', limit: 50, ...(c.kind === 'room' ? { room: c.name } : { with: c.kind === 'feed' ? '*' : c.name }) };
  if (before) req.before = before;
  try {
    const r = await client.request(req);
    const keep = $('messages').scrollHeight - $('messages').scrollTop;
    for (const m of r.messages) insertMessage(c, m);
    c.more = r.more;
    c.loaded = true;
    $('older').hidden = !c.more;
    if (before) $('messages').scrollTop = $('messages').scrollHeight - keep; else scrollToEnd();
  } catch (err) {
    if (err.code !== 'closed' && err.code !== 'offline') showBanner(errorText(err));
  }
}

function open(key) {
  const c = conv(key);
  state.current = c.id;
  $('empty').hidden = true;
  $('conversation').hidden = false;
  $('conv-title').textContent = c.kind === 'room' ? '#' + c.name : c.kind === 'feed' ? 'Announcements' : c.name;
  $('conv-sub').textContent = c.kind === 'room' ? (c.members ? c.members + (c.members === 1 ? ' member' : ' members') : '') :
    c.kind === 'user' ? (state.online.has(c.id) ? 'online' : 'offline') : '';
  $('leave').hidden = c.kind !== 'room';
  $('typing').textContent = '';
  const list = $('message-list');
  list.replaceChildren();
  for (const m of [...c.messages.values()].sort((a, b) => a.mid - b.mid)) list.append(messageNode(m));
  $('older').hidden = !c.more;
  scrollToEnd();
  if (!c.loaded && client.live) loadHistory(c);
  document.body.classList.remove('show-sidebar');
  $('menu').setAttribute('aria-expanded', 'false');
  c.unread = 0;
  markRead(c);
  renderConversations();
  $('text').focus();
}

// --- client events ---------------------------------------------------------------------------

client.addEventListener('status', (e) => {
  const s = e.detail.state;
  $('status').className = 'status ' + s;
  $('status-text').textContent = s === 'live' ? 'online' : s === 'connecting' ? 'connecting…' : 'reconnecting…';
  $('status').title = e.detail.reason || s;
  if (s === 'live') {
    refreshWho();
    const c = state.current && state.convs.get(state.current);
    if (c && !c.loaded) loadHistory(c);
  }
});

client.addEventListener('welcome', (e) => {
  const w = e.detail;
  state.me = w.user;
  state.admin = !!w.admin;
  $('me-name').textContent = w.user;
  $('me-admin').hidden = !state.admin;
  for (const r of w.rooms || []) {
    const c = conv('#' + r.room);
    c.members = r.members;
    c.isPrivate = r.private;
  }
  for (const [key, n] of Object.entries(w.unread || {})) {
    if (key === '!notifications') setFeedUnread(n); else conv(key).unread = n;
  }
  if (state.admin) conv('!notifications');  // admins write announcements there
  for (const name of w.online || []) state.online.add(name.toLowerCase());
  showChat();
  renderConversations();
});

client.addEventListener('auth-failed', () => {
  sessionStorage.removeItem('chatd.token');
  showLogin(state.me ? 'Your login has expired: please log in again.' : '');
});

client.addEventListener('message', (e) => {
  const msg = e.detail;
  if (msg.to === '*') {
    addFeedItem(msg, client.live);
    if (!state.admin) return;  // only admins keep the Announcements conversation
  }
  const c = conv(convKeyOf(msg));
  const stick = nearEnd();
  if (!insertMessage(c, msg)) return;
  const mine = msg.from.toLowerCase() === state.me.toLowerCase();
  if (state.current === c.id && !document.hidden) {
    if (stick || mine) scrollToEnd();
    markRead(c);
  } else if (!mine && c.kind !== 'feed') {
    c.unread += 1;
  }
  renderConversations();
});

client.addEventListener('notification', (e) => addFeedItem(e.detail, client.live));

client.addEventListener('presence', (e) => {
  const name = e.detail.user.toLowerCase();
  if (e.detail.online) state.online.add(name); else state.online.delete(name);
  renderConversations();
  refreshWho();
});

client.addEventListener('typing', (e) => {
  const t = e.detail;
  const key = (t.room ? '#' + t.room : t.from).toLowerCase();
  if (state.current !== key) return;
  $('typing').textContent = t.from + ' is typing…';
  clearTimeout(state.typingTimers.get(key));
  state.typingTimers.set(key, setTimeout(() => { $('typing').textContent = ''; }, 4000));
});

client.addEventListener('read', (e) => {
  if (e.detail.room === '!notifications') setFeedUnread(0);  // read on another device
  const c = conv(e.detail.room ? (e.detail.room === '!notifications' ? '!notifications' : '#' + e.detail.room) : e.detail.with, false);
  if (c) c.unread = 0;
  renderConversations();
});

client.addEventListener('member', (e) => {
  const c = conv('#' + e.detail.room, false);
  if (!c) return;
  c.members = Math.max(0, c.members + (e.detail.joined ? 1 : -1));
  if (state.current === c.id) $('conv-sub').textContent = c.members + (c.members === 1 ? ' member' : ' members');
});

client.addEventListener('invited', (e) => {
  showBanner(e.detail.by + ' invited you to #' + e.detail.room + '. Type its name under Conversations to join.');
});

client.addEventListener('error', (e) => showBanner(errorText(e.detail)));

// --- notifications: the bell -------------------------------------------------------------------

// A short two-tone chime, made with Web Audio (no sound file). Browsers start audio only after
// the user interacted with the page, so the context is made (or resumed) on the first click or key.
let audio = null;
function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!audio && Ctx) {
    try { audio = new Ctx(); } catch { audio = null; }
  }
  if (audio && audio.state === 'suspended') audio.resume().catch(() => {});
}
document.addEventListener('pointerdown', unlockAudio, true);
document.addEventListener('keydown', unlockAudio, true);

function soundOn() { return localStorage.getItem('chatd.sound') !== 'off'; }

function chime() {
  if (!soundOn()) return;
  unlockAudio();
  if (!audio || audio.state !== 'running') return;
  const t = audio.currentTime;
  const gain = audio.createGain();
  gain.gain.setValueAtTime(0.0001, t);
  gain.gain.exponentialRampToValueAtTime(0.18, t + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.45);
  gain.connect(audio.destination);
  for (const [freq, at] of [[880, 0], [1320, 0.12]]) {
    const osc = audio.createOscillator();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(freq, t + at);
    osc.connect(gain);
    osc.start(t + at);
    osc.stop(t + 0.46);
  }
}

// A link the site put in a notification's data: http(s) only, same origin or not.
function safeUrl(raw) {
  if (typeof raw !== 'string' || !raw) return null;
  try {
    const u = new URL(raw, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function feedItemOf(m) {
  if (m.type === 'notification') {
    return { mid: m.mid, ts: m.ts, title: m.title || 'Notification', text: m.text || '',
             url: safeUrl(m.data && m.data.url) };
  }
  return { mid: m.mid, ts: m.ts, title: 'Announcement from ' + m.from, text: m.text || '', url: null, from: m.from };
}

function setFeedUnread(n) {
  state.feed.unread = Math.max(0, n);
  renderBell();
}

function renderBell() {
  const n = state.feed.unread;
  const count = $('bell-count');
  count.hidden = n === 0;
  count.textContent = n > 99 ? '99+' : String(n);
  $('bell').setAttribute('aria-label', n ? 'Notifications, ' + n + ' unread' : 'Notifications');
  renderFeedList();
  renderConversations();
}

function renderFeedList() {
  const list = $('notification-list');
  const items = [...state.feed.items.values()].sort((a, b) => b.mid - a.mid);
  list.replaceChildren();
  items.forEach((item, i) => {
    const li = el('li', 'notification' + (i < state.feed.unread ? ' unread' : ''));
    li.dataset.mid = String(item.mid);
    const head = el('div', 'n-head');
    head.append(el('span', 'n-title', item.title), el('time', 'n-time', item.ts ? timeOf(item.ts) : ''));
    const body = el('div', 'n-text');
    renderText(body, item.text);
    li.append(head, body);
    if (item.url) {
      const a = el('a', 'n-open', 'Open');
      a.href = item.url;
      a.rel = 'noopener noreferrer';
      li.append(a);
    }
    list.append(li);
  });
  $('notifications-empty').hidden = items.length > 0 || !state.feed.loaded;
  $('notifications-older').hidden = !state.feed.more;
}

// A notification or broadcast: into the list; one that arrives live (not in the catch-up) counts
// as unread, rings the bell and plays the chime.
function addFeedItem(m, live) {
  if (state.feed.items.has(m.mid)) return;
  const item = feedItemOf(m);
  state.feed.items.set(m.mid, item);
  const mine = item.from && state.me && item.from.toLowerCase() === state.me.toLowerCase();
  if (live && !mine) {
    state.feed.unread += 1;
    const bell = $('bell');
    bell.classList.remove('ring');
    void bell.offsetWidth;  // restart the animation
    bell.classList.add('ring');
    chime();
  }
  // One that came in the catch-up is in the welcome's unread count already.
  renderBell();
}

async function loadFeed(before) {
  const req = { type: 'history', room: '!notifications', limit: 20 };
  if (before) req.before = before;
  try {
    const r = await client.request(req);
    for (const m of r.messages) {
      if (!state.feed.items.has(m.mid)) state.feed.items.set(m.mid, feedItemOf(m));
    }
    state.feed.more = r.more;
    state.feed.loaded = true;
    renderFeedList();
  } catch (err) {
    if (err.code !== 'closed' && err.code !== 'offline') showBanner(errorText(err));
  }
}

function setPanel(open) {
  state.feed.open = open;
  $('notifications').hidden = !open;
  $('bell').setAttribute('aria-expanded', String(open));
  if (open && !state.feed.loaded && client.live) loadFeed();
}

function markFeedRead() {
  const mids = [...state.feed.items.keys()];
  const upto = Math.max(client.handledUpto, ...mids, 0);
  if (upto > 0) client.notify({ type: 'read', room: '!notifications', upto });
  setFeedUnread(0);
}

$('bell').addEventListener('click', (e) => {
  e.stopPropagation();
  setPanel(!state.feed.open);
});
$('mark-all-read').addEventListener('click', markFeedRead);
$('notifications-older').addEventListener('click', () => {
  const oldest = Math.min(...state.feed.items.keys());
  loadFeed(Number.isFinite(oldest) ? oldest : undefined);
});
$('notifications').addEventListener('click', (e) => e.stopPropagation());
document.addEventListener('click', () => { if (state.feed.open) setPanel(false); });
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.feed.open) {
    setPanel(false);
    $('bell').focus();
  }
});
$('sound').checked = soundOn();
$('sound').addEventListener('change', () => {
  localStorage.setItem('chatd.sound', $('sound').checked ? 'on' : 'off');
  if ($('sound').checked) chime();
});

// --- composing ---------------------------------------------------------------------------------

async function sendCurrent() {
  const c = state.current && state.convs.get(state.current);
  const text = $('text').value;
  if (!c || !text.trim()) return;
  $('text').value = '';
  autosize();
  const node = messageNode({ from: state.me, text, ts: Date.now() });
  node.classList.add('sending');
  node.dataset.mid = '';
  $('message-list').append(node);
  scrollToEnd();
  try {
    const ok = await client.send(targetOf(c), text);
    node.remove();
    insertMessage(c, { mid: ok.mid, from: state.me, text, ts: ok.ts, ...(c.kind === 'room' ? { room: c.name } : { to: c.name }) });
    scrollToEnd();
    renderConversations();
  } catch (err) {
    node.classList.remove('sending');
    node.classList.add('failed');
    const retry = el('button', 'link', 'Failed: ' + errorText(err) + ' — try again');
    retry.type = 'button';
    retry.addEventListener('click', () => { node.remove(); $('text').value = text; sendCurrent(); });
    node.append(retry);
  }
}

function autosize() {
  const t = $('text');
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight, 160) + 'px';
}

$('composer').addEventListener('submit', (e) => { e.preventDefault(); sendCurrent(); });
$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendCurrent();
  }
});
$('text').addEventListener('input', () => {
  autosize();
  const c = state.current && state.convs.get(state.current);
  const now = Date.now();
  if (!c || c.kind === 'feed' || now - state.lastTypingSent < 2000) return;
  state.lastTypingSent = now;
  client.notify({ type: 'typing', ...(c.kind === 'room' ? { room: c.name } : { to: c.name }) });
});
$('older').addEventListener('click', () => {
  const c = state.current && state.convs.get(state.current);
  if (!c) return;
  const oldest = Math.min(...c.messages.keys());
  loadHistory(c, Number.isFinite(oldest) ? oldest : undefined);
});

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('join-room').value.trim().replace(/^#/, '');
  if (!name) return;
  try {
    const r = await client.request({ type: 'join', room: name });
    const c = conv('#' + r.room);
    c.members = r.members;
    c.isPrivate = r.private;
    $('join-room').value = '';
    open(c.key);
  } catch (err) {
    showBanner(errorText(err));
  }
});

$('leave').addEventListener('click', async () => {
  const c = state.current && state.convs.get(state.current);
  if (!c || c.kind !== 'room') return;
  try {
    await client.request({ type: 'leave', room: c.name });
    state.convs.delete(c.id);
    state.current = null;
    $('conversation').hidden = true;
    $('empty').hidden = false;
    renderConversations();
  } catch (err) {
    showBanner(errorText(err));
  }
});

$('menu').addEventListener('click', () => {
  const shown = document.body.classList.toggle('show-sidebar');
  $('menu').setAttribute('aria-expanded', String(shown));
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    markRead(state.current && state.convs.get(state.current));
    refreshWho();
  }
});
setInterval(refreshWho, 10000);

// --- login -----------------------------------------------------------------------------------

function resetFeed() {
  state.feed = { items: new Map(), unread: 0, loaded: false, more: false, open: false };
  setPanel(false);
  renderBell();
}

function showLogin(message) {
  client.stop();
  $('chat').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('login-user').focus();
}

function showChat() {
  $('login').hidden = true;
  $('chat').hidden = false;
}

function setBusy(busy) {
  for (const id of ['login-submit', 'register', 'login-user', 'login-password']) $(id).disabled = busy;
  $('login-submit').textContent = busy ? 'Checking…' : 'Log in';
}

function credentials() {
  const user = $('login-user').value.trim();
  const password = $('login-password').value;
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(user)) throw new Error('Names are 1–32 letters, digits, “.”, “_” or “-”.');
  if (password.length < 8) throw new Error('Passwords have at least 8 characters.');
  return { user, password };
}

async function login(creds) {
  const r = await api('/api/login', creds);
  sessionStorage.setItem('chatd.token', r.token);
  $('login-password').value = '';
  state.convs.clear();
  state.current = null;
  resetFeed();
  client.start(r.user);
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  setBusy(true);
  try {
    await login(credentials());
  } catch (err) {
    $('login-error').textContent = errorText(err);
  } finally {
    setBusy(false);
  }
});

$('register').addEventListener('click', async () => {
  $('login-error').textContent = '';
  setBusy(true);
  try {
    const creds = credentials();
    await api('/api/register', creds);
    await login(creds);
  } catch (err) {
    if (err.status === 403) {
      $('register').hidden = true;
      $('register-note').hidden = false;
    }
    $('login-error').textContent = errorText(err);
  } finally {
    setBusy(false);
  }
});

$('logout').addEventListener('click', async () => {
  const token = sessionStorage.getItem('chatd.token');
  sessionStorage.removeItem('chatd.token');
  client.stop();
  try {
    await fetch('/api/logout', { method: 'POST', credentials: 'same-origin',
                                 headers: token ? { Authorization: 'Bearer ' + token } : {} });
  } catch { /* logged out locally anyway */ }
  state.convs.clear();
  state.current = null;
  resetFeed();
  showLogin('You are logged out.');
});

// On load: try the session cookie (or a token from this tab); the welcome shows the chat.
{
  const remembered = localStorage.getItem('chatd.lastUser');
  if (remembered) $('login-user').value = remembered;
  client.addEventListener('welcome', (e) => localStorage.setItem('chatd.lastUser', e.detail.user));
  client.start(remembered || '');
  client.addEventListener('welcome', (e) => { client.user = e.detail.user; }, { once: true });
}
