//! Personal data at rest: an envelope that names its algorithm and key, so keys can be rotated and another
//! cipher (SM4-GCM) adopted without rewriting the schema; and a keyed blind index for exact phone lookup.
//!
//! Envelope bytes: `0x01` (format) , algorithm id (1 byte: 1 = AES-256-GCM) , key id length (1 byte) , key id ,
//! 12-byte nonce , ciphertext with its 16-byte tag.

use aes_gcm::aead::{Aead, Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Result, StoreError};

const FORMAT: u8 = 1;
const ALG_AES256GCM: u8 = 1;

/// Keys derived from the instance's master secrets, each for one purpose. Personal data is encrypted with the
/// key of the current (first) master; older masters' keys still decrypt what a rotation has not yet rewritten.
/// The blind index, rating-token and source keys come from the first master the instance ever had: they are
/// bound into ledger records and printed QR codes, so they never change.
#[derive(Clone)]
pub struct Secrets {
    pub pii_key_id: String,
    pii_key: [u8; 32],
    /// earlier generations: (key id, key)
    older_pii: Vec<(String, [u8; 32])>,
    index_key: [u8; 32],
    token_key: [u8; 32],
    source_key: [u8; 32],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("pii_key_id", &self.pii_key_id).finish_non_exhaustive()
    }
}

fn derive(master: &[u8], label: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut m) = Hmac::<Sha256>::new_from_slice(master) {
        m.update(label.as_bytes());
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    out
}

impl Secrets {
    /// `master` must be at least 32 bytes of secret randomness.
    pub fn from_master(master: &[u8]) -> Result<Self> {
        Self::from_masters(&[master.to_vec()])
    }

    /// Current master first, then earlier ones, newest to oldest (the last is the instance's first).
    pub fn from_masters(masters: &[Vec<u8>]) -> Result<Self> {
        if masters.is_empty() || masters.iter().any(|m| m.len() < 32) {
            return Err(StoreError::Crypto("a master key is shorter than 32 bytes"));
        }
        let pii = |m: &[u8]| (hex::encode(&derive(m, "hcp key id v1")[..4]), derive(m, "hcp pii aes-256-gcm v1"));
        let (pii_key_id, pii_key) = pii(&masters[0]);
        let first = &masters[masters.len() - 1];
        Ok(Secrets {
            pii_key_id,
            pii_key,
            older_pii: masters[1..].iter().map(|m| pii(m)).collect(),
            index_key: derive(first, "hcp blind index v1"),
            token_key: derive(first, "hcp rating token v1"),
            source_key: derive(first, "hcp source address v1"),
        })
    }

    /// Whether envelopes made with key `id` can be read with these secrets.
    pub fn reads_key(&self, id: &str) -> bool {
        self.pii_key_id == id || self.older_pii.iter().any(|(k, _)| k == id)
    }

    /// Whether an envelope was made with an earlier key (a rotation should rewrite it).
    pub fn is_stale(&self, envelope: &[u8]) -> bool {
        match envelope {
            [_, _, kid_len, rest @ ..] if rest.len() >= usize::from(*kid_len) => {
                &rest[..usize::from(*kid_len)] != self.pii_key_id.as_bytes()
            }
            _ => false,
        }
    }

    pub fn token_key(&self) -> &[u8] {
        &self.token_key
    }

    pub fn encrypt(&self, plaintext: &str) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new_from_slice(&self.pii_key).map_err(|_| StoreError::Crypto("encryption failed"))?;
        let nonce = Nonce::generate();
        let ct = cipher.encrypt(&nonce, plaintext.as_bytes()).map_err(|_| StoreError::Crypto("encryption failed"))?;
        let kid = self.pii_key_id.as_bytes();
        let mut out = Vec::with_capacity(3 + kid.len() + 12 + ct.len());
        out.push(FORMAT);
        out.push(ALG_AES256GCM);
        out.push(kid.len() as u8);
        out.extend_from_slice(kid);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn decrypt(&self, envelope: &[u8]) -> Result<String> {
        let bad = || StoreError::Crypto("an envelope cannot be opened");
        let [format, alg, kid_len, rest @ ..] = envelope else { return Err(bad()) };
        if *format != FORMAT || *alg != ALG_AES256GCM || rest.len() < usize::from(*kid_len) + 12 {
            return Err(bad());
        }
        let (kid, rest) = rest.split_at(usize::from(*kid_len));
        let key = if kid == self.pii_key_id.as_bytes() {
            &self.pii_key
        } else {
            match self.older_pii.iter().find(|(id, _)| id.as_bytes() == kid) {
                Some((_, k)) => k,
                None => return Err(StoreError::Crypto("an envelope was made with a key this instance does not hold")),
            }
        };
        let (nonce, ct) = rest.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|_| bad())?;
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| bad())?;
        let pt = cipher.decrypt(&nonce, ct).map_err(|_| bad())?;
        String::from_utf8(pt).map_err(|_| bad())
    }

    /// Keyed blind index of a normalised phone number (exact lookup without storing the number).
    pub fn phone_index(&self, phone: &str) -> String {
        hex::encode(derive(&self.index_key, phone))
    }

    /// Keyed hash of a source address, kept for fraud detection instead of the address itself.
    pub fn source_hash(&self, addr: &str) -> String {
        hex::encode(&derive(&self.source_key, addr)[..16])
    }
}

/// Every column that holds an envelope, by table (with the table's key column).
pub const ENVELOPE_COLUMNS: &[(&str, &str, &[&str])] = &[
    ("matters", "id", &["applicant_name", "applicant_phone", "applicant_id", "agent_name", "agent_id"]),
    ("ratings", "id", &["rater_name", "rater_phone", "rater_id_number"]),
    ("complaints", "id", &["contact_name", "contact_phone"]),
    ("notifications", "id", &["address"]),
    ("users", "id", &["mobile", "totp_secret"]),
    ("invitations", "matter_id", &["phone"]),
];

/// Append-only tables among them: their triggers are lifted for the rewrite, in the same transaction.
const APPEND_ONLY: &[&str] = &["ratings", "complaints"];

impl crate::db::Db {
    /// Rewrites every envelope made with an earlier key under the current one, in one transaction: `(table,
    /// rows rewritten)`. The envelopes' plaintext does not change, and no ledger record covers the ciphertext
    /// (only whether a value is present), so the ledger still verifies. The append-only triggers of ratings and
    /// complaints are lifted for this transaction only; nothing else may write meanwhile (SQLite's write lock,
    /// PostgreSQL's table locks).
    pub async fn rotate_envelopes(&self, secrets: &Secrets) -> Result<Vec<(&'static str, u64)>> {
        use sqlx::Row;
        let mut report = Vec::new();
        crate::on_db!(self, pool => {
            let is_pg = matches!(self, crate::db::Db::Pg(_));
            let mut tx = pool.begin_with(if is_pg { "BEGIN" } else { "BEGIN IMMEDIATE" }).await?;
            let mut recreate: Vec<String> = Vec::new();
            for t in APPEND_ONLY {
                if is_pg {
                    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER TABLE {t} DISABLE TRIGGER USER"))).execute(&mut *tx).await?;
                } else {
                    for r in sqlx::query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1").bind(*t).fetch_all(&mut *tx).await? {
                        let (name, sql): (String, String) = (r.try_get("name")?, r.try_get("sql")?);
                        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER {name}"))).execute(&mut *tx).await?;
                        recreate.push(sql);
                    }
                }
            }
            for (table, key, cols) in ENVELOPE_COLUMNS {
                let mut rewritten = 0_u64;
                let mut after = String::new();
                let present = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect::<Vec<_>>().join(" OR ");
                let select = format!("SELECT {key} AS id, {} FROM {table} WHERE ({present}) AND {key} > $1 ORDER BY {key} LIMIT 500", cols.join(", "));
                let sets = cols.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect::<Vec<_>>().join(", ");
                let update = format!("UPDATE {table} SET {sets} WHERE {key} = ${}", cols.len() + 1);
                loop {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(select.clone())).bind(&after).fetch_all(&mut *tx).await?;
                    if rows.is_empty() {
                        break;
                    }
                    for r in &rows {
                        let id: String = r.try_get("id")?;
                        let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(cols.len());
                        let mut stale = false;
                        for c in cols.iter() {
                            let v: Option<Vec<u8>> = r.try_get(*c)?;
                            let v = match v {
                                Some(env) if secrets.is_stale(&env) => {
                                    stale = true;
                                    Some(secrets.encrypt(&secrets.decrypt(&env)?)?)
                                }
                                other => other,
                            };
                            values.push(v);
                        }
                        if stale {
                            let mut q = sqlx::query(sqlx::AssertSqlSafe(update.clone()));
                            for v in values {
                                q = q.bind(v);
                            }
                            q.bind(&id).execute(&mut *tx).await?;
                            rewritten += 1;
                        }
                        after = id;
                    }
                }
                report.push((*table, rewritten));
            }
            for t in APPEND_ONLY {
                if is_pg {
                    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER TABLE {t} ENABLE TRIGGER USER"))).execute(&mut *tx).await?;
                }
            }
            // Servers started with a key file that cannot read this key now refuse to start.
            sqlx::query("INSERT INTO key_state (id, pii_key_id, rotated_at) VALUES (1, $1, $2) \
                         ON CONFLICT (id) DO UPDATE SET pii_key_id = excluded.pii_key_id, rotated_at = excluded.rotated_at")
                .bind(&secrets.pii_key_id).bind(hcp_domain::Timestamp::now().micros()).execute(&mut *tx).await?;
            for sql in recreate {
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = Secrets::from_master(&[7u8; 32]).unwrap();
        let env = s.encrypt("13800138000").unwrap();
        assert!(!env.windows(11).any(|w| w == b"13800138000"));
        assert_eq!(s.decrypt(&env).unwrap(), "13800138000");
        let mut bad = env.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(s.decrypt(&bad).is_err());
        let other = Secrets::from_master(&[8u8; 32]).unwrap();
        assert!(other.decrypt(&env).is_err());
        assert_eq!(s.phone_index("13800138000"), s.phone_index("13800138000"));
        assert_ne!(s.phone_index("13800138000"), other.phone_index("13800138000"));
        assert!(Secrets::from_master(&[1u8; 8]).is_err());
        // After a rotation: new data under the new key, old data still readable, index and tokens unchanged.
        let rotated = Secrets::from_masters(&[vec![9u8; 32], vec![7u8; 32]]).unwrap();
        assert_eq!(rotated.decrypt(&env).unwrap(), "13800138000");
        assert!(rotated.is_stale(&env));
        let fresh = rotated.encrypt("13800138000").unwrap();
        assert!(!rotated.is_stale(&fresh));
        assert!(s.decrypt(&fresh).is_err(), "the old key alone cannot read the new envelope");
        assert_eq!(rotated.phone_index("13800138000"), s.phone_index("13800138000"));
        assert_eq!(rotated.token_key(), s.token_key());
    }
}
