-- The provincial link (PROVINCE.md). The ledger keeps every record's identity; while a link is configured the
-- planner turns ledger entries, in order from `province_cursor.ledger_seq`, into one outbox row per record to
-- send (its identity, what it is built from, the identity that must be delivered first). A county without a
-- link accumulates nothing here. The old per-entry `report_*` jobs were never drained and are dropped.
CREATE TABLE province_outbox (
    id           TEXT PRIMARY KEY,
    op           TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    after_id     TEXT,
    source_kind  TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    source_ref   TEXT,
    step         TEXT,
    case_id      TEXT,
    step_no      BIGINT NOT NULL,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    lease_until  BIGINT,
    lease_token  TEXT,
    reason       TEXT,
    planned_at   BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX province_outbox_claim ON province_outbox(op, state, seq);
CREATE INDEX province_outbox_after ON province_outbox(after_id);
CREATE INDEX province_outbox_case ON province_outbox(case_id);
CREATE INDEX province_outbox_state ON province_outbox(state, seq);

CREATE TABLE province_cursor (
    id            BIGINT PRIMARY KEY,
    ledger_seq    BIGINT NOT NULL,
    last_success  BIGINT,
    last_error    TEXT,
    last_error_at BIGINT
);
INSERT INTO province_cursor (id, ledger_seq) VALUES (1, 0);

DELETE FROM jobs WHERE kind LIKE 'report\_%' ESCAPE '\';
