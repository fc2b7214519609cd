-- chatd schema 4: which accounts a web site's signed tokens made. A site token logs in only as
-- such an account (unless site-users-may-be-local is set), never as a local password account.
ALTER TABLE users ADD COLUMN site_user INTEGER NOT NULL DEFAULT 0;
-- Accounts without a password could only have come from site tokens.
UPDATE users SET site_user = 1 WHERE password_hash = '';
