-- Throttling counters shared by every node: one row per key (an action, a scope and a
-- digest of the address or account counted) holding the count of its current window.
CREATE TABLE throttle_counters (
    key          TEXT   PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX throttle_counters_expires_at ON throttle_counters (expires_at);
