CREATE TRIGGER cases_no_update BEFORE UPDATE ON cases BEGIN SELECT RAISE(ABORT, 'cases are append-only'); END;
CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases BEGIN SELECT RAISE(ABORT, 'cases are append-only'); END;
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END;
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END;
CREATE TRIGGER rating_invalidations_no_update BEFORE UPDATE ON rating_invalidations BEGIN SELECT RAISE(ABORT, 'invalidations are append-only'); END;
CREATE TRIGGER rating_invalidations_no_delete BEFORE DELETE ON rating_invalidations BEGIN SELECT RAISE(ABORT, 'invalidations are append-only'); END;
CREATE TRIGGER complaints_no_update BEFORE UPDATE ON complaints BEGIN SELECT RAISE(ABORT, 'complaints are append-only'); END;
CREATE TRIGGER complaints_no_delete BEFORE DELETE ON complaints BEGIN SELECT RAISE(ABORT, 'complaints are append-only'); END;
