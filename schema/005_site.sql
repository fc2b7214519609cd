-- chatd schema 5: what a web site's backend uses: API keys, notifications, webhook events.

-- Keys for the HTTP API (chatd apikey add/list/revoke). Only the SHA-256 of a key is kept.
CREATE TABLE api_keys (
  name       TEXT    NOT NULL COLLATE NOCASE PRIMARY KEY,
  key_hash   TEXT    NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER                    -- set: the key no longer works
);

-- A notification is a message: kind 1, with a title and the site's data (a JSON object).
-- Its sender is 0 (the site); its cid is "pub:<key name>:<the site's cid>" (or a random one).
ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN title TEXT;
ALTER TABLE messages ADD COLUMN data TEXT;

-- Notifications to users (one, a list, a room's members) are one message in this conversation
-- (kind 4, the only one) and a deliveries row per recipient; to everyone, a message in the
-- broadcast feed (conversation 1). Both make up a user's "!notifications" feed.
INSERT INTO conversations (kind, created_at) VALUES (4, 0);

-- A notification's delivery rows are marked, so a user's notifications are one indexed range
-- (catch-up with a cursor, the "!notifications" history and unread count) however many 1:1
-- messages they have.
ALTER TABLE deliveries ADD COLUMN notice INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_notices ON deliveries (user_id, mid) WHERE notice = 1;

-- Who got a message: by mid, for GET /api/messages/<mid> (mids only grow: appended).
CREATE INDEX deliveries_mid ON deliveries (mid);

-- Webhook events waiting to be sent to the site (webhook-url), at least once, in order of
-- next_at; a sent one is deleted.
CREATE TABLE webhook_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- the event id the site dedupes by: never reused
  event      TEXT    NOT NULL,
  body       TEXT    NOT NULL,          -- the JSON posted
  created_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  next_at    INTEGER NOT NULL
);
CREATE INDEX webhook_events_due ON webhook_events (next_at);

-- Undelivered checks: at due_at, if no device of the user has acked mid, a
-- message.undelivered event is made. Appended as messages are stored (webhooks on only).
CREATE TABLE webhook_checks (
  id      INTEGER PRIMARY KEY,
  due_at  INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  mid     INTEGER NOT NULL
);
CREATE INDEX webhook_checks_due ON webhook_checks (due_at);
