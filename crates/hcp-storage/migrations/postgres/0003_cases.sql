CREATE TRIGGER cases_append_only BEFORE UPDATE OR DELETE ON cases FOR EACH ROW EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events FOR EACH ROW EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases FOR EACH STATEMENT EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events FOR EACH STATEMENT EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER rating_invalidations_append_only BEFORE UPDATE OR DELETE ON rating_invalidations FOR EACH ROW EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER complaints_append_only BEFORE UPDATE OR DELETE ON complaints FOR EACH ROW EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER inspections_append_only BEFORE UPDATE OR DELETE ON inspections FOR EACH ROW EXECUTE FUNCTION hcp_append_only();
