// SPDX-License-Identifier: MIT
// The bell: a site's notifications and the broadcasts, their unread count, the list, mark all read.
import { $, el, renderText, timeNode, chime } from './ui.js';

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

function itemOf(m) {
  if (m.type === 'notification') {
    return { mid: m.mid, ts: m.ts, title: m.title || 'Notification', text: m.text || '',
             url: safeUrl(m.data && m.data.url) };
  }
  return { mid: m.mid, ts: m.ts, title: 'Announcement from ' + m.from, text: m.text || '', url: null, from: m.from };
}

export class Bell {
  // hooks.me(): the user's name; hooks.changed(): the unread count changed.
  constructor(client, hooks) {
    this.client = client;
    this.hooks = { me: hooks.me, changed: () => {} };
    this.reset();
    this.hooks = hooks;  // not during construction: the page is still making its parts
    $('bell').addEventListener('click', (e) => {
      e.stopPropagation();
      this.setPanel(!this.open);
    });
    $('mark-all-read').addEventListener('click', () => this.markAllRead());
    $('notifications-older').addEventListener('click', () => {
      const oldest = Math.min(...this.items.keys());
      this.load(Number.isFinite(oldest) ? oldest : undefined);
    });
    $('notifications').addEventListener('click', (e) => e.stopPropagation());
    document.addEventListener('click', () => { if (this.open) this.setPanel(false); });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.open) {
        this.setPanel(false);
        $('bell').focus();
      }
    });
  }

  reset() {
    this.items = new Map();
    this.unread = 0;
    this.loaded = false;
    this.more = false;
    if (this.open) this.setPanel(false);
    this.open = false;
    this.render();
  }

  setUnread(n) {
    this.unread = Math.max(0, n);
    this.render();
  }

  onLive() {
    if (this.open && !this.loaded) this.load();
  }

  // A notification or broadcast: into the list. One that arrives live (not in the catch-up,
  // which the welcome's count holds already) counts as unread, rings the bell and plays the chime.
  add(m, live) {
    if (this.items.has(m.mid)) return;
    const item = itemOf(m);
    this.items.set(m.mid, item);
    const me = this.hooks.me();
    const mine = item.from && me && item.from.toLowerCase() === me.toLowerCase();
    if (live && !mine) {
      this.unread += 1;
      const bell = $('bell');
      bell.classList.remove('ring');
      void bell.offsetWidth;  // restart the animation
      bell.classList.add('ring');
      chime(true);
    }
    this.render();
  }

  render() {
    const n = this.unread;
    const count = $('bell-count');
    count.hidden = n === 0;
    count.textContent = n > 99 ? '99+' : String(n);
    $('bell').setAttribute('aria-label', n ? 'Notifications, ' + n + ' unread' : 'Notifications');
    this.renderList();
    this.hooks.changed();
  }

  renderList() {
    const list = $('notification-list');
    const items = [...this.items.values()].sort((a, b) => b.mid - a.mid);
    list.replaceChildren();
    items.forEach((item, i) => {
      const li = el('li', 'notification' + (i < this.unread ? ' unread' : ''));
      li.dataset.mid = String(item.mid);
      const head = el('div', 'n-head');
      head.append(el('span', 'n-title', item.title));
      if (item.ts) head.append(timeNode(item.ts, 'n-time'));
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
    $('notifications-empty').hidden = items.length > 0 || !this.loaded;
    $('notifications-older').hidden = !this.more;
  }

  async load(before) {
    const req = { type: 'history', room: '!notifications', limit: 20 };
    if (before) req.before = before;
    try {
      const r = await this.client.request(req);
      for (const m of r.messages) {
        if (!this.items.has(m.mid)) this.items.set(m.mid, itemOf(m));
      }
      this.more = r.more;
      this.loaded = true;
      this.renderList();
    } catch { /* offline: loaded when the panel opens again */ }
  }

  setPanel(open) {
    this.open = open;
    $('notifications').hidden = !open;
    $('bell').setAttribute('aria-expanded', String(open));
    if (open && !this.loaded && this.client.live) this.load();
  }

  markAllRead() {
    const mids = [...this.items.keys()];
    const upto = Math.max(this.client.handledUpto, ...mids, 0);
    if (upto > 0) this.client.notify({ type: 'read', room: '!notifications', upto });
    this.setUnread(0);
  }
}
