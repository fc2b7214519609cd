-- chatd schema 6: the offline pool appended, then folded (docs/storage.md, "The offline pool:
-- appended, then folded"). Accepting a 1:1 message writes its messages row only, which now names
-- its recipient; an ack writes a marks row only. The storage thread folds both into deliveries
-- and users.acked_upto in the background, in sorted batches, up to meta 'fold_log'.

-- The recipient of a 1:1 message (NULL for rooms, broadcasts and notifications).
ALTER TABLE messages ADD COLUMN recipient_id INTEGER;

-- Acks not folded yet: the user's devices have everything up to `upto` (ms time `ts`). Folded
-- rows are deleted: every row here is waiting for the fold.
CREATE TABLE marks (
  seq     INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL,
  upto    INTEGER NOT NULL,
  ts      INTEGER NOT NULL
);

-- Every message up to here has its deliveries rows; a database from before has all of them.
INSERT OR REPLACE INTO meta (key, value) VALUES ('fold_log', (SELECT coalesce(max(mid), 0) FROM messages));
