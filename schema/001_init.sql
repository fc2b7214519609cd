-- chatd schema 1: accounts and login sessions.
-- Applied once, in a transaction, by the binary that embeds it (PRAGMA user_version = 1).

-- Facts about this database: 'epoch' ties the RocksDB history cache to it.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('epoch', lower(hex(randomblob(16))));

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL COLLATE NOCASE UNIQUE,  -- 1-32 of [A-Za-z0-9._-], unique ignoring case
  password_hash TEXT    NOT NULL DEFAULT '',             -- argon2id string; '' = no password login (site users)
  is_admin      INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL                         -- ms since the epoch
);

-- Login tokens. Only the SHA-256 of a token is stored; deleting the row revokes it.
CREATE TABLE sessions (
  token_hash TEXT    PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions (user_id);
