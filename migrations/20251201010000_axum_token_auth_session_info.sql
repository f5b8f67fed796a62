-- Per-session metadata next to the user agent: a device name the application chose and
-- the client's IP address at login (both optional, shown in session lists).
ALTER TABLE refresh_families ADD COLUMN IF NOT EXISTS device text;
ALTER TABLE refresh_families ADD COLUMN IF NOT EXISTS ip text;
