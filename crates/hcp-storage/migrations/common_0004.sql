-- Notifications to raters and staff (S-5, S-13; issue 3 item 9). A cursor over the ledger turns case records into
-- notifications, so nothing the loop does is missed even if a node stops between a step and its message; each
-- notification is then sent by a `notify` job with retries. Addresses are encrypted like raters' data and shown
-- masked; every delivery attempt is kept with its result.
CREATE TABLE notify_cursor (
    id  BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
-- Start after what is already on the ledger: upgrading must not message every past case.
INSERT INTO notify_cursor (id, seq) SELECT 1, seq FROM chain_head WHERE id = 1;

CREATE TABLE notifications (
    id             TEXT PRIMARY KEY,
    source         TEXT NOT NULL,
    case_id        TEXT REFERENCES cases(id),
    recipient      TEXT NOT NULL,
    channel        TEXT NOT NULL,
    address        BYTES_TYPE NOT NULL,
    address_masked TEXT NOT NULL,
    template       TEXT NOT NULL,
    subject        TEXT NOT NULL,
    body           TEXT NOT NULL,
    state          TEXT NOT NULL,
    attempts       BIGINT NOT NULL,
    last_result    TEXT,
    created_at     BIGINT NOT NULL,
    sent_at        BIGINT,
    UNIQUE (source, recipient, channel)
);
CREATE INDEX notifications_case ON notifications(case_id, created_at);

CREATE TABLE notification_attempts (
    notification_id TEXT NOT NULL REFERENCES notifications(id),
    attempt         BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    ok              BOOLEAN NOT NULL,
    result          TEXT NOT NULL,
    PRIMARY KEY (notification_id, attempt)
);

-- Staff contact details for notifications: a work e-mail address, and a mobile number encrypted like raters'.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN mobile BYTES_TYPE;

-- The follow-up rating (追评) of a first rating is looked up by the rating it follows.
CREATE INDEX ratings_follows ON ratings(follows_id) WHERE follows_id IS NOT NULL;
