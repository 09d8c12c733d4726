-- The schema shared by both engines. Written once; the engine-specific files add what differs
-- (integer key syntax, BLOB vs BYTEA, the triggers that make ledger tables append-only).
-- Timestamps are BIGINT microseconds since the Unix epoch (UTC) on both engines; `biz_day` is the
-- Asia/Shanghai calendar day as the integer YYYYMMDD, the grouping key of the rollups.

CREATE TABLE units (
    code           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    parent_code    TEXT REFERENCES units(code),
    kind           TEXT NOT NULL,
    region_code    TEXT NOT NULL,
    credit_code    TEXT,
    hall_stationed BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX units_parent ON units(parent_code);

CREATE TABLE windows (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    unit_code  TEXT NOT NULL REFERENCES units(code),
    created_at BIGINT NOT NULL
);
CREATE INDEX windows_unit ON windows(unit_code);

CREATE TABLE items (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    item_type       TEXT NOT NULL,
    owner_unit_code TEXT NOT NULL REFERENCES units(code),
    created_at      BIGINT NOT NULL
);
CREATE INDEX items_owner ON items(owner_unit_code);

CREATE TABLE staff (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    unit_code   TEXT NOT NULL REFERENCES units(code),
    window_code TEXT REFERENCES windows(code),
    created_at  BIGINT NOT NULL
);
CREATE INDEX staff_unit ON staff(unit_code);

CREATE TABLE catalogues (
    version   BIGINT PRIMARY KEY,
    name      TEXT NOT NULL,
    body      TEXT NOT NULL,
    in_force  BOOLEAN NOT NULL,
    loaded_at BIGINT NOT NULL
);

CREATE TABLE matters (
    id                 TEXT PRIMARY KEY,
    matter_no          TEXT NOT NULL UNIQUE,
    item_code          TEXT NOT NULL REFERENCES items(code),
    unit_code          TEXT NOT NULL REFERENCES units(code),
    applicant_kind     TEXT NOT NULL,
    applicant_name     BYTES_TYPE NOT NULL,
    applicant_phone    BYTES_TYPE,
    applicant_id       BYTES_TYPE,
    applicant_phone_ix TEXT,
    accepted_at        BIGINT NOT NULL,
    completed_at       BIGINT,
    first_rated_at     BIGINT,
    source_kind        TEXT NOT NULL,
    source_id          TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX matters_unit ON matters(unit_code, completed_at);
CREATE INDEX matters_phone_ix ON matters(applicant_phone_ix);

CREATE TABLE services (
    matter_id   TEXT NOT NULL REFERENCES matters(id),
    seq         BIGINT NOT NULL,
    window_code TEXT REFERENCES windows(code),
    staff_code  TEXT REFERENCES staff(code),
    served_at   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (matter_id, seq)
);

-- Ratings are append-only (see the engine files for the triggers). One rating per matter and service
-- occasion (service_seq 0 = the matter as a whole, 一事一评) and assessment number (1 = first, 2 = 追评).
CREATE TABLE ratings (
    id                    TEXT PRIMARY KEY,
    matter_id             TEXT NOT NULL REFERENCES matters(id),
    matter_no             TEXT NOT NULL,
    service_seq           BIGINT NOT NULL,
    assess_number         BIGINT NOT NULL,
    follows_id            TEXT REFERENCES ratings(id),
    channel               TEXT NOT NULL,
    level                 BIGINT NOT NULL,
    indicators            TEXT NOT NULL,
    reasons               TEXT NOT NULL,
    text                  TEXT,
    anonymous             BOOLEAN NOT NULL,
    rater_name            BYTES_TYPE,
    rater_phone           BYTES_TYPE,
    rater_id_number       BYTES_TYPE,
    rater_phone_ix        TEXT,
    rater_from_applicant  BOOLEAN NOT NULL,
    unit_code             TEXT NOT NULL,
    item_code             TEXT NOT NULL,
    window_code           TEXT,
    staff_code            TEXT,
    catalogue_version     BIGINT NOT NULL,
    referral              BOOLEAN NOT NULL,
    rated_at              BIGINT NOT NULL,
    received_at           BIGINT NOT NULL,
    biz_day               BIGINT NOT NULL,
    credential_kind       TEXT NOT NULL,
    credential_id         TEXT,
    device_id             TEXT,
    source_hash           TEXT,
    client_type           TEXT NOT NULL,
    seconds_after_service BIGINT,
    UNIQUE (matter_id, service_seq, assess_number)
);
CREATE INDEX ratings_unit_day ON ratings(unit_code, biz_day);
CREATE INDEX ratings_phone_ix ON ratings(rater_phone_ix);

-- The hash chain over every rating and every later record about one (append-only).
CREATE TABLE ledger (
    seq          BIGINT PRIMARY KEY,
    kind         TEXT NOT NULL,
    ref_id       TEXT NOT NULL,
    content_hash BYTES_TYPE NOT NULL,
    chain_hash   BYTES_TYPE NOT NULL,
    recorded_at  BIGINT NOT NULL
);
CREATE INDEX ledger_ref ON ledger(ref_id);

-- The head of the chain: one row, locked by the writer of each batch (FOR UPDATE on PostgreSQL).
CREATE TABLE chain_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash BYTES_TYPE NOT NULL
);

-- Rollups kept current in the same transaction as each rating: counts per level, per dimension and day.
CREATE TABLE rollup_ratings (
    dim     TEXT NOT NULL,
    dim_key TEXT NOT NULL,
    biz_day BIGINT NOT NULL,
    n1 BIGINT NOT NULL, n2 BIGINT NOT NULL, n3 BIGINT NOT NULL, n4 BIGINT NOT NULL, n5 BIGINT NOT NULL,
    PRIMARY KEY (dim, dim_key, biz_day)
);

-- Completed and rated matters per dimension and completion day, for the participation rate (参评率).
CREATE TABLE rollup_matters (
    dim       TEXT NOT NULL,
    dim_key   TEXT NOT NULL,
    biz_day   BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    rated     BIGINT NOT NULL,
    PRIMARY KEY (dim, dim_key, biz_day)
);

-- Background work and the outbox (reports to the provincial system), written with the change that causes it.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    run_at       BIGINT NOT NULL,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, run_at);

CREATE TABLE idempotency_keys (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    rating_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Machine credentials: system, device and hotline keys, stored only as SHA-256 hashes.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    unit_code   TEXT NOT NULL REFERENCES units(code),
    window_code TEXT REFERENCES windows(code),
    key_hash    TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    unit_code     TEXT NOT NULL REFERENCES units(code),
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
