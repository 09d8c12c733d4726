-- Claiming jobs of one kind (the notifier's `notify`) must not scan the provincial outbox (`report_*`), which
-- holds a row per record until the provincial link drains it: jobs are found by kind first.
CREATE INDEX jobs_kind_due ON jobs(kind, state, run_at);
