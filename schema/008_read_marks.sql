-- chatd schema 8: read markers are appended too (docs/storage.md, "The offline pool: appended,
-- then folded"). A marks row with a conversation is a read marker of it (1: the notification
-- feed); without one, an ack. The fold moves members.read_upto / users.broadcast_read and sets
-- read_at on the deliveries rows it covers.
ALTER TABLE marks ADD COLUMN conv_id INTEGER;
