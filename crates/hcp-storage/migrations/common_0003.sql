-- Bad-review and complaint cases. A case and its events are append-only (on the ledger); its current state is a
-- projection kept in case_status for queues and filters.
CREATE TABLE cases (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    rating_id     TEXT UNIQUE REFERENCES ratings(id),
    matter_no     TEXT NOT NULL,
    unit_code     TEXT NOT NULL,
    item_code     TEXT NOT NULL,
    window_code   TEXT,
    staff_code    TEXT,
    level         BIGINT NOT NULL,
    category      TEXT NOT NULL,
    real_name     BOOLEAN NOT NULL,
    referral      BOOLEAN NOT NULL,
    opened_at     BIGINT NOT NULL,
    arrival_day   BIGINT NOT NULL,
    respond_by    BIGINT NOT NULL,
    reply_by      BIGINT NOT NULL,
    provisional   BOOLEAN NOT NULL
);
CREATE INDEX cases_unit ON cases(unit_code, opened_at);

CREATE TABLE case_status (
    case_id    TEXT PRIMARY KEY REFERENCES cases(id),
    unit_code  TEXT NOT NULL,
    state      TEXT NOT NULL,
    reply_by   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX case_status_unit ON case_status(unit_code, state);

CREATE TABLE case_events (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases(id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL,
    state_after TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX case_events_case ON case_events(case_id, at);

-- Things that must happen once per case whatever the number of nodes (e.g. marking a deadline overdue):
-- the primary key makes a second node's attempt a no-op.
CREATE TABLE case_flags (
    case_id TEXT NOT NULL REFERENCES cases(id),
    flag    TEXT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (case_id, flag)
);

-- 复核 applications of a case (one per case), as a projection of its events.
CREATE TABLE appeals (
    case_id    TEXT PRIMARY KEY REFERENCES cases(id),
    route      TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Ratings found untrue (不属实) by an upheld 复核: kept, never deleted, and out of every statistic from then on.
CREATE TABLE rating_invalidations (
    rating_id  TEXT PRIMARY KEY REFERENCES ratings(id),
    case_id    TEXT NOT NULL REFERENCES cases(id),
    decided_by TEXT NOT NULL,
    at         BIGINT NOT NULL
);

-- Complaints and suggestions (综合点评), online or taken down from the complaint line or the suggestion box; each
-- opens a case handled in the same loop. Append-only, on the ledger. Contact data encrypted like raters'.
CREATE TABLE complaints (
    id               TEXT PRIMARY KEY,
    case_id          TEXT NOT NULL REFERENCES cases(id),
    kind             TEXT NOT NULL,
    source           TEXT NOT NULL,
    unit_code        TEXT NOT NULL,
    matter_no        TEXT,
    text             TEXT NOT NULL,
    anonymous        BOOLEAN NOT NULL,
    contact_name     BYTES_TYPE,
    contact_phone    BYTES_TYPE,
    contact_phone_ix TEXT,
    submitted_at     BIGINT NOT NULL,
    entered_by       TEXT
);

-- Supervision (监督查评): inspections by the county bureau and third-party assessments, with scores per dimension
-- and findings; a finding may open a rectification case. Append-only, on the ledger.
CREATE TABLE inspections (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_code  TEXT NOT NULL,
    unit_code    TEXT NOT NULL,
    inspected_on BIGINT NOT NULL,
    scores       TEXT NOT NULL,
    findings     TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    case_id      TEXT REFERENCES cases(id)
);
CREATE INDEX inspections_unit ON inspections(unit_code, inspected_on);
