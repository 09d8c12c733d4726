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

/// Keys derived from the instance's master secret, each for one purpose.
#[derive(Clone)]
pub struct Secrets {
    pub pii_key_id: String,
    pii_key: [u8; 32],
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
        if master.len() < 32 {
            return Err(StoreError::Internal("主密钥长度不足 32 字节".into()));
        }
        let fingerprint = derive(master, "hcp key id v1");
        Ok(Secrets {
            pii_key_id: hex::encode(&fingerprint[..4]),
            pii_key: derive(master, "hcp pii aes-256-gcm v1"),
            index_key: derive(master, "hcp blind index v1"),
            token_key: derive(master, "hcp rating token v1"),
            source_key: derive(master, "hcp source address v1"),
        })
    }

    pub fn token_key(&self) -> &[u8] {
        &self.token_key
    }

    pub fn encrypt(&self, plaintext: &str) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new_from_slice(&self.pii_key).map_err(|e| StoreError::Internal(e.to_string()))?;
        let nonce = Nonce::generate();
        let ct = cipher.encrypt(&nonce, plaintext.as_bytes()).map_err(|e| StoreError::Internal(e.to_string()))?;
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
        let bad = || StoreError::Internal("个人信息密文无法解密".into());
        let [format, alg, kid_len, rest @ ..] = envelope else { return Err(bad()) };
        if *format != FORMAT || *alg != ALG_AES256GCM || rest.len() < usize::from(*kid_len) + 12 {
            return Err(bad());
        }
        let (kid, rest) = rest.split_at(usize::from(*kid_len));
        if kid != self.pii_key_id.as_bytes() {
            return Err(StoreError::Internal("个人信息由另一把密钥加密，请先导入该密钥".into()));
        }
        let (nonce, ct) = rest.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|_| bad())?;
        let cipher = Aes256Gcm::new_from_slice(&self.pii_key).map_err(|_| bad())?;
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
    }
}
