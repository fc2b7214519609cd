-- chatd schema 2: conversations, messages and the offline pool.
-- See docs/storage.md for how these tables are used.

-- Every message <= acked_upto has been acknowledged by one of the user's devices.
ALTER TABLE users ADD COLUMN acked_upto INTEGER NOT NULL DEFAULT 0;
-- The newest mid when the account was created: broadcasts before it are not the user's.
ALTER TABLE users ADD COLUMN joined_mid INTEGER NOT NULL DEFAULT 0;
-- Read marker of the broadcast feed and of the notification feed.
ALTER TABLE users ADD COLUMN broadcast_read INTEGER NOT NULL DEFAULT 0;

-- A conversation: a 1:1 pair (kind 1), a room (kind 2) or the broadcast feed (kind 3, one row).
CREATE TABLE conversations (
  id         INTEGER PRIMARY KEY,
  kind       INTEGER NOT NULL,
  user_a     INTEGER,                    -- kind 1: the two users, user_a < user_b
  user_b     INTEGER,
  name       TEXT COLLATE NOCASE,        -- kind 2: the room name
  is_private INTEGER NOT NULL DEFAULT 0,
  owner_id   INTEGER,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX conversations_direct ON conversations (user_a, user_b) WHERE kind = 1;
CREATE UNIQUE INDEX conversations_room ON conversations (name) WHERE kind = 2;
INSERT INTO conversations (id, kind, created_at) VALUES (1, 3, 0);

-- Who is in a conversation (both users of a 1:1 pair; the members of a room), with their read
-- marker and, for rooms, the mid at which they joined (they see only what came after).
CREATE TABLE members (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  conv_id    INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  joined_mid INTEGER NOT NULL DEFAULT 0,
  read_upto  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, conv_id)
) WITHOUT ROWID;
CREATE INDEX members_conv ON members (conv_id, user_id);

-- Invitations to private rooms: an invited user may join.
CREATE TABLE invites (
  conv_id    INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  invited_by INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (conv_id, user_id)
) WITHOUT ROWID;

-- Every accepted message, once. mid is the server's id: increasing, below 2^53, never reused
-- (AUTOINCREMENT keeps the highest mid ever used in sqlite_sequence, even after a purge).
CREATE TABLE messages (
  mid       INTEGER PRIMARY KEY AUTOINCREMENT,
  conv_id   INTEGER NOT NULL,
  sender_id INTEGER NOT NULL,
  cid       TEXT    NOT NULL,           -- the sender's id for it: (sender_id, cid) is unique
  text      TEXT    NOT NULL,
  ts        INTEGER NOT NULL            -- ms since the epoch
);
CREATE UNIQUE INDEX messages_dedupe ON messages (sender_id, cid);
CREATE INDEX messages_conv ON messages (conv_id, mid);

-- The offline pool: one row per recipient of a 1:1 message (the old app_offline table).
-- A row is undelivered while mid > users.acked_upto of its user; delivered_at is set when a
-- device acks it, read_at when the user's read marker passes it.
CREATE TABLE deliveries (
  user_id      INTEGER NOT NULL,
  mid          INTEGER NOT NULL,
  delivered_at INTEGER,
  read_at      INTEGER,
  PRIMARY KEY (user_id, mid)
) WITHOUT ROWID;

-- The pool as an admin reads it: from, to, content, status, time.
CREATE VIEW offline_pool AS
  SELECT d.mid AS mid, s.name AS sender, r.name AS recipient, m.text AS content,
         CASE WHEN d.read_at IS NOT NULL THEN 'read'
              WHEN d.delivered_at IS NOT NULL THEN 'delivered'
              ELSE 'pending' END AS status,
         m.ts AS time, d.delivered_at AS delivered_at, d.read_at AS read_at
    FROM deliveries d
    JOIN messages m ON m.mid = d.mid
    LEFT JOIN users s ON s.id = m.sender_id
    LEFT JOIN users r ON r.id = d.user_id;
