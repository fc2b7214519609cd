// SPDX-License-Identifier: MIT
// The chat page. Everything that came from the server or a user goes into the page as text
// (textContent / text nodes): never as HTML.
import { ChatClient, api } from './client.js';
import {
  $, el, renderText, previewOf, timeNode, refreshTimes, dayOf, sameDay, clockOf, fullTimeOf,
  chime, soundOn, setSound, setFaviconBadge, desktopState, askDesktop, desktopNotify,
} from './ui.js';
import { Bell } from './bell.js';

const client = new ChatClient();
const PHONE = window.matchMedia('(max-width: 640px)');

const state = {
  me: null,
  admin: false,
  convs: new Map(),   // id (lower-case key) -> conversation; keys: "bob", "#general", "!notifications"
  online: new Set(),  // lower-case names
  current: null,      // id of the open conversation
  typingTimers: new Map(),
  lastTypingSent: 0,
  listed: false,      // the server's conversation list has been read on this connection
  search: { q: '', seq: 0, people: [], more: false },
};

const bell = new Bell(client, { me: () => state.me, changed: () => renderTotals() });

// --- small helpers -------------------------------------------------------------------------

function showBanner(text) {
  $('banner-text').textContent = text;
  $('banner').hidden = false;
}
$('banner-close').addEventListener('click', () => { $('banner').hidden = true; });

function errorText(err) {
  if (!err) return 'Something went wrong.';
  return err.message || err.code || String(err);
}

const isMe = (name) => !!name && !!state.me && name.toLowerCase() === state.me.toLowerCase();

// --- conversations -------------------------------------------------------------------------

function convKeyOf(msg) {
  if (msg.room) return '#' + msg.room;
  if (msg.to === '*') return '!notifications';
  return isMe(msg.from) ? msg.to : msg.from;
}

function conv(key, create = true) {
  const id = key.toLowerCase();
  let c = state.convs.get(id);
  if (!c && create) {
    const kind = key.startsWith('#') ? 'room' : key === '!notifications' ? 'feed' : 'user';
    c = { key, id, kind, name: kind === 'room' ? key.slice(1) : key, messages: new Map(), unread: 0,
          loaded: false, more: false, loading: false, lastMid: 0, lastTs: 0, last: null, members: 0,
          isPrivate: false, delivered: 0, read: 0, newFrom: 0, pending: new Map() };
    state.convs.set(id, c);
  }
  return c;
}

function titleOf(c) {
  return c.kind === 'room' ? '#' + c.name : c.kind === 'feed' ? 'Announcements' : c.name;
}

function targetOf(c) {
  if (c.kind === 'room') return { room: c.name };
  if (c.kind === 'feed') return { to: '*' };
  return { to: c.name };
}

// The newest message of a conversation, for the sidebar's order and preview.
function noteLast(c, msg) {
  if (!msg.mid || msg.mid < c.lastMid) return;
  c.lastMid = msg.mid;
  c.lastTs = msg.ts || c.lastTs;
  c.last = { from: msg.from, text: msg.text || '' };
}

function totalUnread() {
  let n = bell.unread;
  for (const c of state.convs.values()) if (c.kind !== 'feed') n += c.unread;
  return n;
}

// The title, the favicon and (on a phone) the menu button say how much is unread.
function renderTotals() {
  const total = totalUnread();
  document.title = (total > 0 ? '(' + total + ') ' : '') + 'chatd';
  setFaviconBadge(total);
  let elsewhere = bell.unread;
  for (const c of state.convs.values()) if (c.kind !== 'feed' && c.id !== state.current) elsewhere += c.unread;
  const badge = $('menu-count');
  badge.hidden = elsewhere === 0;
  badge.textContent = elsewhere > 99 ? '99+' : String(elsewhere);
  $('menu').setAttribute('aria-label', elsewhere ? 'Conversations, ' + elsewhere + ' unread' : 'Conversations');
}

function filterMatches(c) {
  const q = state.search.q.toLowerCase();
  return !q || c.name.toLowerCase().includes(q);
}

function itemButton(label, onClick) {
  const b = el('button', 'item');
  b.type = 'button';
  b.addEventListener('click', onClick);
  b.append(label);
  return b;
}

function renderConversations() {
  const list = $('conversations');
  const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  list.replaceChildren();
  const convs = [...state.convs.values()]
    .filter((c) => (c.kind !== 'feed' || state.admin) && filterMatches(c))
    .sort((a, b) => (b.lastMid - a.lastMid) || a.name.localeCompare(b.name));
  for (const c of convs) {
    const li = el('li');
    const main = el('span', 'item-main');
    const top = el('span', 'item-top');
    top.append(el('span', 'label', titleOf(c)));
    if (c.isPrivate) top.append(el('span', 'tag', 'private'));
    if (c.lastTs) top.append(timeNode(c.lastTs, 'item-time'));
    main.append(top);
    if (c.last) {
      const who = isMe(c.last.from) ? 'You: ' : c.kind === 'room' ? c.last.from + ': ' : '';
      main.append(el('span', 'preview', who + previewOf(c.last.text)));
    }
    const b = itemButton(main, () => open(c.key));
    b.dataset.id = c.id;
    if (c.id === state.current) {
      b.classList.add('active');
      b.setAttribute('aria-current', 'true');
    }
    if (c.kind === 'user') {
      const on = state.online.has(c.id);
      const dot = el('span', 'presence' + (on ? ' on' : ''));
      dot.title = on ? 'online' : 'offline';
      b.prepend(dot);
    } else {
      b.prepend(el('span', 'room-mark', c.kind === 'room' ? '#' : '!'));
    }
    let label = titleOf(c) + (c.kind === 'user' ? (state.online.has(c.id) ? ', online' : ', offline') : '');
    if (c.unread > 0 && c.kind !== 'feed') {
      b.append(el('span', 'count', c.unread > 999 ? '999+' : String(c.unread)));
      b.classList.add('has-unread');
      label += ', ' + c.unread + ' unread';
    }
    b.setAttribute('aria-label', label);
    li.append(b);
    list.append(li);
  }
  $('no-conversations').hidden = convs.length > 0 || !!state.search.q;
  if (focused) list.querySelector(`[data-id="${CSS.escape(focused)}"]`)?.focus();
  renderTotals();
}

function renderOnline(users) {
  const list = $('online');
  list.replaceChildren();
  $('online-count').textContent = users.length ? '(' + users.length + ')' : '';
  for (const u of users) {
    const label = el('span', 'label', u.user);
    const b = itemButton(label, () => open(u.user));
    b.prepend(el('span', 'presence on'));
    if (isMe(u.user)) b.append(el('span', 'muted small', '(you)'));
    else if (u.devices > 1) b.append(el('span', 'muted small', u.devices + ' devices'));
    const li = el('li');
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
    renderHeader();
  } catch { /* next round */ }
}

// The server's list: 1:1 partners and rooms with their newest message, for a new device too.
async function loadConversationList() {
  try {
    const r = await client.request({ type: 'conversations', limit: 100 });
    for (const item of r.conversations) {
      const c = conv(item.room ? '#' + item.room : item.with);
      if (item.room) c.isPrivate = item.private;
      if (item.last) noteLast(c, item.last);
    }
    state.listed = true;
    renderConversations();
  } catch (err) {
    if (err.code !== 'closed' && err.code !== 'offline') showBanner(errorText(err));
  }
}

// --- the directory: search for anyone by name -------------------------------------------------

let searchTimer = null;
function onSearchInput() {
  state.search.q = $('search').value.trim();
  renderConversations();
  clearTimeout(searchTimer);
  if (!state.search.q) {
    state.search.people = [];
    renderPeople();
    return;
  }
  searchTimer = setTimeout(searchPeople, 150);
}

async function searchPeople() {
  const q = state.search.q;
  const seq = ++state.search.seq;
  if (!client.live) return;
  try {
    const r = await client.request({ type: 'users', q, limit: 20 });
    if (seq !== state.search.seq) return;  // a newer search is on its way
    state.search.people = r.users;
    state.search.more = r.more;
    for (const u of r.users) {
      if (u.online) state.online.add(u.user.toLowerCase()); else state.online.delete(u.user.toLowerCase());
    }
    renderPeople();
  } catch (err) {
    if (seq !== state.search.seq) return;
    state.search.people = [];
    renderPeople(err.code === 'forbidden' ? 'This server does not list its users: type a whole name and press Enter.' : '');
  }
}

function renderPeople(note = '') {
  const section = $('people-section');
  const list = $('people');
  list.replaceChildren();
  const people = state.search.people.filter((u) => !isMe(u.user));
  section.hidden = !state.search.q;
  for (const u of people) {
    const b = itemButton(el('span', 'label', u.user), () => startWith(u.user));
    b.prepend(el('span', 'presence' + (u.online ? ' on' : '')));
    b.append(el('span', 'muted small', u.online ? 'online' : 'offline'));
    b.setAttribute('aria-label', 'Message ' + u.user + (u.online ? ', online' : ', offline'));
    const li = el('li');
    li.append(b);
    list.append(li);
  }
  $('people-note').textContent = note ||
    (state.search.q && !people.length ? 'Nobody by that name.' : state.search.more ? 'More match: type more of the name.' : '');
}

function startWith(name) {
  $('search').value = '';
  state.search.q = '';
  state.search.people = [];
  renderPeople();
  open(name);
}

// --- messages ------------------------------------------------------------------------------

function statusOf(c, msg) {
  if (c.kind !== 'user') return 'Sent';
  if (c.read >= msg.mid) return 'Read';
  if (c.delivered >= msg.mid) return 'Delivered';
  return 'Sent';
}

function messageNode(c, msg) {
  const mine = isMe(msg.from);
  const li = el('li', 'msg' + (mine ? ' mine' : ''));
  li.dataset.mid = msg.mid ? String(msg.mid) : '';
  li.dataset.from = (msg.from || '').toLowerCase();
  li.dataset.ts = String(msg.ts || Date.now());
  const head = el('div', 'meta');
  head.append(el('span', 'from', msg.from || state.me));
  if (msg.ts) {
    const t = el('time', 'time', clockOf(msg.ts));
    t.dateTime = new Date(msg.ts).toISOString();
    t.title = fullTimeOf(msg.ts);
    head.append(t);
  }
  const body = el('div', 'text');
  renderText(body, msg.text || '');
  li.append(head, body);
  if (mine) {
    const st = el('span', 'state', msg.mid ? statusOf(c, msg) : 'Sending…');
    st.dataset.state = st.textContent.toLowerCase().replace('…', '');
    li.append(st);
  }
  return li;
}

// Re-derives the day headings, the sender grouping and the "new messages" line of the list.
function decorate(c) {
  const list = $('message-list');
  for (const d of [...list.querySelectorAll('.day, .new-line')]) d.remove();
  let prev = null;
  let newShown = false;
  for (const li of [...list.children]) {
    const ts = Number(li.dataset.ts);
    if (!prev || !sameDay(Number(prev.dataset.ts), ts)) {
      const day = el('li', 'day');
      day.append(el('span', null, dayOf(ts)));
      list.insertBefore(day, li);
      prev = null;
    }
    const mid = Number(li.dataset.mid || 0);
    if (!newShown && c.newFrom && mid >= c.newFrom) {
      const line = el('li', 'new-line');
      line.append(el('span', null, 'New messages'));
      list.insertBefore(line, li);
      newShown = true;
      prev = null;
    }
    const cont = prev && prev.dataset.from === li.dataset.from && ts - Number(prev.dataset.ts) < 5 * 60000;
    li.classList.toggle('cont', !!cont);
    prev = li;
  }
}

// Adds a message to its conversation (and to the view when it is open). `redecorate` false: the
// caller inserts a batch and calls decorate() once after it.
function insertMessage(c, msg, redecorate = true) {
  if (c.messages.has(msg.mid)) return false;
  c.messages.set(msg.mid, msg);
  noteLast(c, msg);
  if (state.current !== c.id) return true;
  const list = $('message-list');
  const node = messageNode(c, msg);
  // Keep mid order (history pages arrive older-first, live messages at the end); messages still
  // being sent stay last.
  let before = null;
  for (const child of list.querySelectorAll('.msg')) {
    const mid = child.dataset.mid ? Number(child.dataset.mid) : Infinity;
    if (mid > msg.mid) { before = child; break; }
  }
  list.insertBefore(node, before);
  if (redecorate) decorate(c);
  return true;
}

function refreshStates(c) {
  if (state.current !== c.id) return;
  for (const li of $('message-list').querySelectorAll('.msg.mine[data-mid]')) {
    const mid = Number(li.dataset.mid);
    const st = li.querySelector('.state');
    if (!mid || !st) continue;
    const text = statusOf(c, { mid });
    if (st.textContent !== text) {
      st.textContent = text;
      st.dataset.state = text.toLowerCase();
    }
  }
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
  if (!c || c.lastMid === 0 || document.hidden || (PHONE.matches && document.body.classList.contains('show-sidebar'))) return;
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const req = { type: 'read', upto: c.lastMid };
    if (c.kind === 'room') req.room = c.name;
    else if (c.kind === 'feed') req.room = '!notifications';
    else req.with = c.name;
    client.notify(req);
    c.unread = 0;
    renderConversations();
  }, 300);
}

async function loadHistory(c, before) {
  if (c.loading) return;
  c.loading = true;
  const req = { type: 'history', limit: 50, ...(c.kind === 'room' ? { room: c.name } : { with: c.kind === 'feed' ? '*' : c.name }) };
  if (before) req.before = before;
  const box = $('messages');
  try {
    const r = await client.request(req);
    const keep = box.scrollHeight - box.scrollTop;
    for (const m of r.messages) insertMessage(c, m, false);
    if (state.current === c.id) decorate(c);
    c.more = r.more;
    c.loaded = true;
    if (state.current === c.id) {
      $('older').hidden = !c.more;
      // Older messages go above what the reader is looking at: the view stays where it was.
      if (before) box.scrollTop = box.scrollHeight - keep; else scrollToEnd();
    }
    renderConversations();
  } catch (err) {
    if (err.code === 'not_found' && c.kind === 'user') {
      showBanner('There is nobody called ' + c.name + ' on this server.');
    } else if (err.code !== 'closed' && err.code !== 'offline') {
      showBanner(errorText(err));
    }
  } finally {
    c.loading = false;
  }
}

function renderHeader() {
  const c = state.current && state.convs.get(state.current);
  if (!c) return;
  $('conv-title').textContent = titleOf(c);
  let sub = '';
  if (c.kind === 'room') sub = (c.members ? c.members + (c.members === 1 ? ' member' : ' members') : '') + (c.isPrivate ? ' · private' : '');
  else if (c.kind === 'user') sub = state.online.has(c.id) ? 'online' : 'offline: messages wait for them';
  $('conv-sub').textContent = sub;
  $('leave').hidden = c.kind !== 'room';
  $('invite').hidden = c.kind !== 'room';
  $('members').hidden = c.kind !== 'room';
}

function setSidebar(shown) {
  document.body.classList.toggle('show-sidebar', shown);
  $('menu').setAttribute('aria-expanded', String(shown));
  $('scrim').hidden = !(shown && PHONE.matches);
}

// Where "New messages" starts: the first of the last `unread` messages from someone else (0 when
// they are not all here yet).
function firstUnreadMid(c, unread) {
  const others = [...c.messages.values()].filter((m) => !isMe(m.from)).sort((a, b) => a.mid - b.mid);
  return unread > 0 && others.length >= unread ? others[others.length - unread].mid : 0;
}

function open(key) {
  const c = conv(key);
  state.current = c.id;
  $('empty').hidden = true;
  $('conversation').hidden = false;
  $('invite-form').hidden = true;
  showMembers(false);
  $('typing').textContent = '';
  renderHeader();
  c.newFrom = firstUnreadMid(c, c.unread);
  const list = $('message-list');
  list.replaceChildren();
  for (const m of [...c.messages.values()].sort((a, b) => a.mid - b.mid)) list.append(messageNode(c, m));
  for (const [cid, p] of c.pending) list.append(pendingNode(c, cid, p));
  decorate(c);
  $('older').hidden = !c.more;
  scrollToEnd();
  if (!c.loaded && client.live) {
    const unread = c.unread;
    loadHistory(c).then(() => {
      if (unread > 0 && state.current === c.id && !c.newFrom) {
        c.newFrom = firstUnreadMid(c, unread);
        decorate(c);
      }
    });
  }
  setSidebar(false);
  c.unread = 0;
  markRead(c);
  renderConversations();
  if (!PHONE.matches || document.activeElement !== $('search')) $('text').focus();
}

// --- client events ---------------------------------------------------------------------------

client.addEventListener('status', (e) => {
  const s = e.detail.state;
  $('status').className = 'status ' + (s === 'reconnecting' ? 'offline' : s);
  let text = s === 'live' ? 'online' : s === 'connecting' ? 'connecting…' : s === 'reconnecting' ? 'reconnecting…' : 'offline';
  if (s === 'offline' && e.detail.retryMs) text = 'offline, retrying in ' + Math.max(1, Math.round(e.detail.retryMs / 1000)) + ' s';
  $('status-text').textContent = text;
  $('status').title = e.detail.reason || text;
  if (s === 'live') {
    refreshWho();
    loadConversationList();
    bell.onLive();
    const c = state.current && state.convs.get(state.current);
    if (c && !c.loaded) loadHistory(c);
    if (state.search.q) searchPeople();
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
  // The welcome's counts are the truth, on every (re)connect: they already include the messages
  // the catch-up is about to replay.
  for (const c of state.convs.values()) c.unread = 0;
  bell.setUnread(0);
  for (const [key, n] of Object.entries(w.unread || {})) {
    if (key === '!notifications') bell.setUnread(n); else conv(key).unread = n;
  }
  if (state.admin) conv('!notifications');  // admins write announcements there
  state.online = new Set((w.online || []).map((n) => n.toLowerCase()));
  showChat();
  renderConversations();
  renderHeader();
  renderOutbox();
});

client.addEventListener('auth-failed', () => {
  sessionStorage.removeItem('chatd.token');
  showLogin(state.me ? 'Your login has expired: please log in again.' : '');
});

// Something new from someone else while the reader looks elsewhere: a sound, a desktop
// notification when the tab is hidden.
function attention(c, msg) {
  const here = state.current === c.id && !document.hidden;
  if (here) return;
  chime();
  if (document.hidden) {
    desktopNotify(c.kind === 'room' ? msg.from + ' in #' + c.name : msg.from, msg.text || '', c.id, () => open(c.key));
  }
}

client.addEventListener('message', (e) => {
  const msg = e.detail;
  if (msg.to === '*') {
    bell.add(msg, client.live);
    if (!state.admin) return;  // only admins keep the Announcements conversation
  }
  const c = conv(convKeyOf(msg));
  const stick = nearEnd();
  if (!insertMessage(c, msg)) return;
  const mine = isMe(msg.from);
  if (state.current === c.id && !document.hidden) {
    if (stick || mine) scrollToEnd();
    markRead(c);
  } else if (!mine && c.kind !== 'feed' && client.live) {
    // Before "live" this is the catch-up: the welcome counted it already.
    c.unread += 1;
  }
  if (!mine && client.live && c.kind !== 'feed') attention(c, msg);
  renderConversations();
});

client.addEventListener('notification', (e) => bell.add(e.detail, client.live));

client.addEventListener('presence', (e) => {
  const name = e.detail.user.toLowerCase();
  if (e.detail.online) state.online.add(name); else state.online.delete(name);
  renderConversations();
  renderHeader();
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

// Read on another device of mine.
client.addEventListener('read', (e) => {
  if (e.detail.room === '!notifications') bell.setUnread(0);
  const c = conv(e.detail.room ? (e.detail.room === '!notifications' ? '!notifications' : '#' + e.detail.room) : e.detail.with, false);
  if (c) c.unread = 0;
  renderConversations();
});

// The peer read (receipt) or a device of theirs received (delivered) my messages.
client.addEventListener('receipt', (e) => {
  const c = conv(e.detail.from, false);
  if (!c) return;
  c.read = Math.max(c.read, e.detail.upto);
  c.delivered = Math.max(c.delivered, e.detail.upto);
  refreshStates(c);
});
client.addEventListener('delivered', (e) => {
  const c = conv(e.detail.from, false);
  if (!c) return;
  c.delivered = Math.max(c.delivered, e.detail.upto);
  refreshStates(c);
});

client.addEventListener('member', (e) => {
  const c = conv('#' + e.detail.room, false);
  if (!c) return;
  if (isMe(e.detail.user) && !e.detail.joined) {  // left on another device
    state.convs.delete(c.id);
    if (state.current === c.id) closeConversation();
    renderConversations();
    return;
  }
  c.members = Math.max(0, c.members + (e.detail.joined ? 1 : -1));
  renderHeader();
});

client.addEventListener('invited', (e) => {
  showBanner(e.detail.by + ' invited you to #' + e.detail.room + ': join it under Rooms.');
  $('join-room').value = e.detail.room;
});

client.addEventListener('error', (e) => showBanner(errorText(e.detail)));

// --- sending: the outbox ---------------------------------------------------------------------

function pendingNode(c, cid, p) {
  const node = messageNode(c, { from: state.me, text: p.text, ts: p.ts });
  node.classList.add('sending');
  node.dataset.cid = cid;
  if (p.failed) {
    node.classList.replace('sending', 'failed');
    const st = node.querySelector('.state');
    st.textContent = 'Not sent: ' + p.failed;
    st.dataset.state = 'failed';
    const retry = el('button', 'link', 'Try again');
    retry.type = 'button';
    retry.addEventListener('click', () => {
      c.pending.delete(cid);
      node.remove();
      queueSend(c, p.text);
    });
    const drop = el('button', 'link', 'Delete');
    drop.type = 'button';
    drop.addEventListener('click', () => { c.pending.delete(cid); node.remove(); });
    node.append(retry, drop);
  }
  return node;
}

// Queued sends, also those from before a reload, show in their conversations as "Sending…".
function renderOutbox() {
  for (const [cid, req] of client.outbox) {
    const c = conv(convKeyOf({ ...req, from: state.me }));
    if (c.pending.has(cid)) continue;
    c.pending.set(cid, { text: req.text, ts: Number(parseInt(cid.slice(2), 36)) || Date.now() });
    if (state.current === c.id) $('message-list').append(pendingNode(c, cid, c.pending.get(cid)));
  }
}

function queueSend(c, text) {
  const cid = client.send(targetOf(c), text);
  c.pending.set(cid, { text, ts: Date.now() });
  if (state.current === c.id) {
    $('message-list').append(pendingNode(c, cid, c.pending.get(cid)));
    decorate(c);
    scrollToEnd();
  }
}

client.addEventListener('sent', (e) => {
  const { cid, req, ok } = e.detail;
  const c = conv(convKeyOf({ ...req, from: state.me }));
  c.pending.delete(cid);
  if (state.current === c.id) $('message-list').querySelector(`[data-cid="${CSS.escape(cid)}"]`)?.remove();
  const msg = { mid: ok.mid, from: state.me, text: req.text, ts: ok.ts, ...(req.room ? { room: req.room } : { to: req.to }) };
  insertMessage(c, msg);
  if (state.current === c.id) scrollToEnd();
  renderConversations();
});

client.addEventListener('send-failed', (e) => {
  const { cid, req, err } = e.detail;
  const c = conv(convKeyOf({ ...req, from: state.me }));
  const p = c.pending.get(cid) || { text: req.text, ts: Date.now() };
  p.failed = err.code === 'not_found' ? 'there is nobody by that name' : errorText(err);
  c.pending.set(cid, p);
  if (state.current === c.id) {
    const old = $('message-list').querySelector(`[data-cid="${CSS.escape(cid)}"]`);
    const node = pendingNode(c, cid, p);
    if (old) old.replaceWith(node); else $('message-list').append(node);
  }
});

function sendCurrent() {
  const c = state.current && state.convs.get(state.current);
  const text = $('text').value;
  if (!c || !text.trim()) return;
  $('text').value = '';
  autosize();
  queueSend(c, text);
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
  if (!c || c.kind === 'feed' || !$('text').value || now - state.lastTypingSent < 2000) return;
  state.lastTypingSent = now;
  client.notify({ type: 'typing', ...(c.kind === 'room' ? { room: c.name } : { to: c.name }) });
});

function loadOlder() {
  const c = state.current && state.convs.get(state.current);
  if (!c || !c.more || c.loading) return;
  const oldest = Math.min(...c.messages.keys());
  loadHistory(c, Number.isFinite(oldest) ? oldest : undefined);
}
$('older').addEventListener('click', loadOlder);
// Scrolling to the top loads older history by itself.
$('messages').addEventListener('scroll', () => { if ($('messages').scrollTop < 40) loadOlder(); }, { passive: true });

// --- rooms -------------------------------------------------------------------------------------

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('join-room').value.trim().replace(/^#/, '');
  if (!name) return;
  try {
    const r = await client.request({ type: 'join', room: name, private: $('join-private').checked });
    const c = conv('#' + r.room);
    c.members = r.members;
    c.isPrivate = r.private;
    for (const n of r.online || []) state.online.add(n.toLowerCase());
    $('join-room').value = '';
    $('join-private').checked = false;
    open(c.key);
  } catch (err) {
    showBanner(err.code === 'forbidden' ? '#' + name + ' is private: a member has to invite you first.' : errorText(err));
  }
});

function closeConversation() {
  state.current = null;
  $('conversation').hidden = true;
  $('empty').hidden = false;
}

$('leave').addEventListener('click', async () => {
  const c = state.current && state.convs.get(state.current);
  if (!c || c.kind !== 'room') return;
  try {
    await client.request({ type: 'leave', room: c.name });
    state.convs.delete(c.id);
    closeConversation();
    renderConversations();
  } catch (err) {
    showBanner(errorText(err));
  }
});

async function showMembers(shown) {
  $('members-panel').hidden = !shown;
  $('members').setAttribute('aria-expanded', String(shown));
  const c = state.current && state.convs.get(state.current);
  if (!shown || !c || c.kind !== 'room') return;
  const list = $('member-list');
  try {
    const r = await client.request({ type: 'members', room: c.name });
    list.replaceChildren();
    c.members = r.members.length;
    renderHeader();
    for (const m of r.members) {
      const b = itemButton(el('span', 'label', m.user), () => (isMe(m.user) ? null : open(m.user)));
      b.prepend(el('span', 'presence' + (m.online ? ' on' : '')));
      b.append(el('span', 'muted small', isMe(m.user) ? '(you)' : m.online ? 'online' : 'offline'));
      const li = el('li');
      li.append(b);
      list.append(li);
    }
  } catch (err) {
    showBanner(errorText(err));
  }
}
$('members').addEventListener('click', () => showMembers($('members-panel').hidden));

$('invite').addEventListener('click', () => {
  $('invite-form').hidden = false;
  $('invite-user').focus();
});
$('invite-cancel').addEventListener('click', () => { $('invite-form').hidden = true; });
$('invite-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const c = state.current && state.convs.get(state.current);
  const user = $('invite-user').value.trim();
  if (!c || c.kind !== 'room' || !user) return;
  try {
    await client.request({ type: 'invite', room: c.name, user });
    $('invite-user').value = '';
    $('invite-form').hidden = true;
    showBanner(user + ' is invited to #' + c.name + '.');
  } catch (err) {
    showBanner(err.code === 'conflict' ? user + ' is in #' + c.name + ' already.' : errorText(err));
  }
});

// --- navigation: the phone's menu, keyboard -----------------------------------------------------

$('menu').addEventListener('click', () => setSidebar(!document.body.classList.contains('show-sidebar')));
$('scrim').addEventListener('click', () => setSidebar(false));
$('search').addEventListener('input', onSearchInput);
$('search').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    const first = $('sidebar').querySelector('#conversations .item, #people .item');
    if (first) first.click();
    else if (/^[^\s]{1,64}$/.test(state.search.q)) startWith(state.search.q);
  } else if (e.key === 'ArrowDown') {
    e.preventDefault();
    $('sidebar').querySelector('#conversations .item, #people .item')?.focus();
  } else if (e.key === 'Escape' && $('search').value) {
    e.stopPropagation();
    $('search').value = '';
    onSearchInput();
  }
});
// Arrow keys move through the sidebar's lists.
$('sidebar').addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const items = [...$('sidebar').querySelectorAll('.list .item')].filter((b) => b.offsetParent !== null);
  const i = items.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  if (e.key === 'ArrowUp' && i === 0) $('search').focus();
  else items[Math.min(items.length - 1, Math.max(0, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus();
});
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k' && !$('chat').hidden) {
    e.preventDefault();
    setSidebar(true);
    $('search').focus();
    $('search').select();
  } else if (e.key === 'Escape' && !bell.open) {
    if (document.body.classList.contains('show-sidebar') && PHONE.matches) setSidebar(false);
    else if (!$('invite-form').hidden) $('invite-form').hidden = true;
  }
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    client.reconnectNow();
    markRead(state.current && state.convs.get(state.current));
    refreshWho();
  }
});
window.addEventListener('online', () => client.reconnectNow());
setInterval(refreshWho, 10000);
setInterval(() => refreshTimes($('sidebar')), 30000);

// --- alerts: sound and desktop notifications ---------------------------------------------------

$('sound').checked = soundOn();
$('sound').addEventListener('change', () => {
  setSound($('sound').checked);
  if ($('sound').checked) chime();
});

function renderDesktop() {
  const s = desktopState();
  $('desktop').hidden = s !== 'default';
  const hint = $('desktop-hint');
  hint.hidden = s === 'default';
  hint.textContent = s === 'granted' ? 'Desktop notifications are on while this tab is in the background.'
    : s === 'denied' ? 'Desktop notifications are blocked for this site in the browser.'
    : s === 'insecure' ? 'Desktop notifications need this page over HTTPS (or on localhost).'
    : 'This browser has no desktop notifications.';
}
$('desktop').addEventListener('click', async () => { await askDesktop(); renderDesktop(); });
renderDesktop();

// --- login -----------------------------------------------------------------------------------

function showLogin(message) {
  client.stop();
  $('chat').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  document.title = 'chatd';
  setFaviconBadge(0);
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

function resetState() {
  state.convs.clear();
  state.current = null;
  state.online.clear();
  closeConversation();
  bell.reset();
}

async function login(creds) {
  const r = await api('/api/login', creds);
  sessionStorage.setItem('chatd.token', r.token);
  $('login-password').value = '';
  resetState();
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
    $('login-error').textContent = err.status === 403 ? 'Registration is closed on this server.' : errorText(err);
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
  resetState();
  showLogin('You are logged out.');
});

// On load: try the session cookie (or a token from this tab); the welcome shows the chat.
{
  const remembered = localStorage.getItem('chatd.lastUser');
  if (remembered) $('login-user').value = remembered;
  client.addEventListener('welcome', (e) => localStorage.setItem('chatd.lastUser', e.detail.user));
  client.start(remembered || '');
}
