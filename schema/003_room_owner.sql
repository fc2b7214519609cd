-- chatd schema 3: who created each room, indexed, for the per-user cap on room creation
-- (max-rooms-per-user).
CREATE INDEX conversations_owner ON conversations (owner_id) WHERE kind = 2;
