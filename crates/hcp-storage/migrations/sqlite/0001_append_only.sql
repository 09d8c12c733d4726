CREATE TRIGGER ratings_no_update BEFORE UPDATE ON ratings BEGIN SELECT RAISE(ABORT, 'ratings are append-only'); END;
CREATE TRIGGER ratings_no_delete BEFORE DELETE ON ratings BEGIN SELECT RAISE(ABORT, 'ratings are append-only'); END;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
