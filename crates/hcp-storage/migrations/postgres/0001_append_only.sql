CREATE FUNCTION hcp_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER ratings_append_only BEFORE UPDATE OR DELETE ON ratings FOR EACH ROW EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER ratings_no_truncate BEFORE TRUNCATE ON ratings FOR EACH STATEMENT EXECUTE FUNCTION hcp_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger FOR EACH STATEMENT EXECUTE FUNCTION hcp_append_only();
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
