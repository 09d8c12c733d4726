-- What the national 办件服务 record needs of a matter (NATIONAL-RULES.md §4.3, PROVINCE.md): the matter's name,
-- the applicant's kind in the national codes (userProp: 1 自然人, 2 企业法人, 3 事业法人, 4 社会组织法人,
-- 5 非法人企业, 6 行政机关, 9 其他组织), 承诺时限 and 法定时限 with their units (0 天, 1 工作日, 2 月, 3 年),
-- 即办件 (`instant`) or 承诺件 (`promised`), online or offline handling, the agent (代理人, personal data: kept as
-- envelopes like the applicant's) and, for a matter handled online, the staff member who handled it (经办人).
-- All optional: matters registered before keep NULL, and the record falls back as it did.
ALTER TABLE matters ADD COLUMN project_name TEXT;
ALTER TABLE matters ADD COLUMN applicant_prop BIGINT;
ALTER TABLE matters ADD COLUMN promise_limit BIGINT;
ALTER TABLE matters ADD COLUMN promise_unit BIGINT;
ALTER TABLE matters ADD COLUMN legal_limit BIGINT;
ALTER TABLE matters ADD COLUMN legal_unit BIGINT;
ALTER TABLE matters ADD COLUMN handling TEXT;
ALTER TABLE matters ADD COLUMN proc_channel TEXT;
ALTER TABLE matters ADD COLUMN agent_name BYTES_TYPE;
ALTER TABLE matters ADD COLUMN agent_id BYTES_TYPE;
ALTER TABLE matters ADD COLUMN handler_code TEXT REFERENCES staff(code);

-- A case's response deadline joins its reply deadline in the projection, and both say whether they are still
-- provisional: deadlines computed across a year whose holiday notice was not loaded are recomputed when it is
-- (a `deadlines_recomputed` step on the ledger; the case as opened stays as it was).
ALTER TABLE case_status ADD COLUMN respond_by BIGINT;
ALTER TABLE case_status ADD COLUMN provisional BOOLEAN;
UPDATE case_status SET respond_by = (SELECT c.respond_by FROM cases c WHERE c.id = case_status.case_id),
                       provisional = (SELECT c.provisional FROM cases c WHERE c.id = case_status.case_id);
CREATE INDEX case_status_provisional ON case_status(provisional, state);

-- Cases about the same matter are shown together (a complaint beside the bad review it follows).
CREATE INDEX cases_matter ON cases(matter_no);

-- The 台账: each 限期整改 outcome as a rectification item with its own deadline, open until the unit records it
-- done (a projection of the case's events, kept in the transaction that appends them).
CREATE TABLE rectifications (
    case_id     TEXT PRIMARY KEY REFERENCES cases(id),
    unit_code   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    rectify_by  BIGINT NOT NULL,
    state       TEXT NOT NULL,
    opened_at   BIGINT NOT NULL,
    progress    BIGINT NOT NULL,
    done_at     BIGINT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX rectifications_due ON rectifications(state, rectify_by);
CREATE INDEX rectifications_unit ON rectifications(unit_code, state);

-- Presses a window device could not get accepted for good (not a network problem: a refusal), reported by the
-- device so that the county sees them; the device keeps its own copy too. No personal data: a device takes none.
CREATE TABLE device_dead_letters (
    id          TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    unit_code   TEXT NOT NULL,
    window_code TEXT,
    matter_no   TEXT NOT NULL,
    service_no  TEXT,
    level       BIGINT NOT NULL,
    code        TEXT NOT NULL,
    pressed_at  TEXT,
    reported_at BIGINT NOT NULL
);
CREATE INDEX device_dead_letters_unit ON device_dead_letters(unit_code, reported_at);
CREATE INDEX device_dead_letters_key ON device_dead_letters(key_id, reported_at);
