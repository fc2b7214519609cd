-- chatd schema 7: resends are recognised from memory (store/dedupe.h: the messages of the
-- last days, read back from this table at start) instead of a unique index, which cost a
-- random B-tree page for every message stored (docs/storage.md, "Dedupe").
DROP INDEX IF EXISTS messages_dedupe;
