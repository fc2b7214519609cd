// SPDX-License-Identifier: MIT
// What the page's parts share: building elements, text with links (never HTML), times, the chime,
// the favicon badge and desktop notifications.

export const $ = (id) => document.getElementById(id);

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Message text as text nodes, with http(s) links as real links (built, not parsed as HTML).
// A trailing full stop, comma or closing bracket is punctuation, not part of the link.
export function renderText(container, text) {
  const re = /\bhttps?:\/\/[^\s<>"'`]+/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    let href = m[0];
    const trail = href.match(/[.,;:!?)\]]+$/);
    if (trail) href = href.slice(0, -trail[0].length);
    if (m.index > last) container.append(document.createTextNode(text.slice(last, m.index)));
    const a = el('a', null, href);
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    container.append(a);
    last = m.index + href.length;
  }
  if (last < text.length) container.append(document.createTextNode(text.slice(last)));
}

// One line of text for a preview: whitespace folded, cut at `max` characters.
export function previewOf(text, max = 80) {
  const one = String(text || '').replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

const DAY_MS = 86400000;

function startOfDay(ts) {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function clockOf(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// The full date and time, for a tooltip.
export function fullTimeOf(ts) {
  return new Date(ts).toLocaleString([], { dateStyle: 'full', timeStyle: 'medium' });
}

// "just now", "5 min", a clock time today, "Yesterday", a weekday this week, else a date.
export function relativeTimeOf(ts, now = Date.now()) {
  const ago = now - ts;
  if (ago < 60000) return 'just now';
  if (ago < 3600000) return Math.floor(ago / 60000) + ' min';
  const days = Math.round((startOfDay(now) - startOfDay(ts)) / DAY_MS);
  if (days <= 0) return clockOf(ts);
  if (days === 1) return 'Yesterday';
  if (days < 7) return new Date(ts).toLocaleDateString([], { weekday: 'short' });
  return new Date(ts).toLocaleDateString([], { day: 'numeric', month: 'short' });
}

// The heading of a day in a conversation.
export function dayOf(ts, now = Date.now()) {
  const days = Math.round((startOfDay(now) - startOfDay(ts)) / DAY_MS);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return new Date(ts).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long',
                                               year: days > 300 ? 'numeric' : undefined });
}

export function sameDay(a, b) { return startOfDay(a) === startOfDay(b); }

// A <time> with a relative text, the full date on hover, refreshed by refreshTimes().
export function timeNode(ts, cls) {
  const t = el('time', cls, relativeTimeOf(ts));
  t.dateTime = new Date(ts).toISOString();
  t.title = fullTimeOf(ts);
  t.dataset.ts = String(ts);
  return t;
}

export function refreshTimes(root = document) {
  for (const t of root.querySelectorAll('time[data-ts]')) {
    const text = relativeTimeOf(Number(t.dataset.ts));
    if (t.textContent !== text) t.textContent = text;
  }
}

// --- sound: a short two-tone chime made with Web Audio (the CSP allows no media files). Browsers
// start audio only after the user interacted with the page, so the context is made (or resumed)
// on the first click or key.
let audio = null;
export function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!audio && Ctx) {
    try { audio = new Ctx(); } catch { audio = null; }
  }
  if (audio && audio.state === 'suspended') audio.resume().catch(() => {});
}
document.addEventListener('pointerdown', unlockAudio, true);
document.addEventListener('keydown', unlockAudio, true);

export function soundOn() { return localStorage.getItem('chatd.sound') !== 'off'; }
export function setSound(on) { localStorage.setItem('chatd.sound', on ? 'on' : 'off'); }

export function chime(high = false) {
  if (!soundOn()) return;
  unlockAudio();
  if (!audio || audio.state !== 'running') return;
  const t = audio.currentTime;
  const gain = audio.createGain();
  gain.gain.setValueAtTime(0.0001, t);
  gain.gain.exponentialRampToValueAtTime(0.18, t + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.45);
  gain.connect(audio.destination);
  const notes = high ? [[988, 0], [1480, 0.1]] : [[880, 0], [1320, 0.12]];
  for (const [freq, at] of notes) {
    const osc = audio.createOscillator();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(freq, t + at);
    osc.connect(gain);
    osc.start(t + at);
    osc.stop(t + 0.46);
  }
}

// --- the favicon: the logo, with a red count when something is unread.
const ICON = '<rect width="64" height="64" rx="14" fill="#2f6fed"/>' +
  '<path d="M16 20h32a4 4 0 0 1 4 4v16a4 4 0 0 1-4 4H30l-10 8v-8h-4a4 4 0 0 1-4-4V24a4 4 0 0 1 4-4z" fill="#fff"/>';
let lastBadge = null;
export function setFaviconBadge(n) {
  if (n === lastBadge) return;
  lastBadge = n;
  let svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">' + ICON;
  if (n > 0) {
    const label = n > 99 ? '99+' : String(n);
    svg += '<circle cx="46" cy="18" r="18" fill="#d92d20"/><text x="46" y="25" font-size="' +
      (label.length > 2 ? 14 : 20) + '" font-family="sans-serif" font-weight="700" fill="#fff" text-anchor="middle">' +
      label + '</text>';
  }
  svg += '</svg>';
  let link = document.querySelector('link[rel="icon"]');
  if (!link) {
    link = document.createElement('link');
    link.rel = 'icon';
    document.head.append(link);
  }
  link.type = 'image/svg+xml';
  link.href = 'data:image/svg+xml,' + encodeURIComponent(svg);
}

// --- desktop notifications: browsers offer them only in a secure context (HTTPS or localhost).
export function desktopState() {
  if (!('Notification' in window)) return 'unsupported';
  if (!window.isSecureContext) return 'insecure';
  return Notification.permission;  // default | granted | denied
}

export async function askDesktop() {
  if (desktopState() !== 'default') return desktopState();
  try { await Notification.requestPermission(); } catch { /* stays default */ }
  return desktopState();
}

export function desktopNotify(title, body, tag, onClick) {
  if (desktopState() !== 'granted' || localStorage.getItem('chatd.desktop') === 'off') return;
  try {
    const n = new Notification(title, { body: previewOf(body, 160), tag, silent: true });
    n.onclick = () => { window.focus(); onClick(); n.close(); };
  } catch { /* some browsers allow them only from a service worker */ }
}
