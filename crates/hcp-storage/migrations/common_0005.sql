-- Issue 4: a tamper-evident audit trail, session idle timeouts, sign-in throttling and a second factor.

-- Every sign-in (and failed attempt), every change, every refused attempt and every view of a rater's contact,
-- hash-chained like the ledger (hash = chain_hash(previous, seq, content hash), hex) and append-only.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT,
    source_hash TEXT,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log(actor, at);

CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Idle timeout: a session unused for longer than the idle limit ends, whatever its absolute expiry.
ALTER TABLE sessions ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed sign-ins per account, shared by every node: too many in a window lock the account for a while.
CREATE TABLE login_failures (
    username     TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    first_at     BIGINT NOT NULL,
    locked_until BIGINT
);

-- The second factor (TOTP, RFC 6238) of a staff account: its secret, encrypted like raters' data.
ALTER TABLE users ADD COLUMN totp_secret BYTES_TYPE;
-- The last time step whose code was accepted: a code is good once.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- The personal-data key in force (its id), written by `keys rotate`: a server whose key file cannot read it
-- refuses to start rather than fail on every contact view.
CREATE TABLE key_state (
    id         BIGINT PRIMARY KEY,
    pii_key_id TEXT NOT NULL,
    rotated_at BIGINT NOT NULL
);

-- The rating device of a window asks for the latest service at its window that is still unrated.
CREATE INDEX services_window ON services(window_code, created_at);

-- Notifications look up a unit's staff with somewhere to send to.
CREATE INDEX users_unit ON users(unit_code);
