-- Invitations (S-5): one per completed matter whose applicant gave a phone. The phone is kept only as its
-- envelope and blind index (the reply from it is matched through the index). `state`: `open` (invited, may be
-- answered by SMS), `awaiting_reasons` (a bad review by SMS reply; the follow-up listing reason codes was sent),
-- `rated`, `opted_out`, `closed` (the rating window ended).
CREATE TABLE invitations (
    matter_id      TEXT PRIMARY KEY REFERENCES matters(id),
    matter_no      TEXT NOT NULL,
    phone          BYTES_TYPE NOT NULL,
    phone_ix       TEXT NOT NULL,
    state          TEXT NOT NULL,
    invited_at     BIGINT NOT NULL,
    remind_at      BIGINT,
    reminded_at    BIGINT,
    closes_at      BIGINT NOT NULL,
    rating_id      TEXT,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX invitations_phone ON invitations(phone_ix, invited_at);
CREATE INDEX invitations_remind ON invitations(state, remind_at);

-- Phones that replied TD (退订) or followed the opt-out link: never invited again.
CREATE TABLE sms_optouts (
    phone_ix TEXT PRIMARY KEY,
    via      TEXT NOT NULL,
    at       BIGINT NOT NULL
);

-- Invitations and replies are not about a case: their unit is their matter's.
ALTER TABLE notifications ADD COLUMN matter_id TEXT;
