//! Rating tokens: signed, single-purpose credentials printed in QR codes and push links. A token names one
//! matter and one service occasion (0 = the matter as a whole, 一事一评) and expires with the rating window.
//! Format: `MATTER_NO.SEQ.EXPIRES.SIGNATURE` (signature: HMAC-SHA256 truncated to 128 bits, base64url).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::DomainError;

const PURPOSE: &str = "hcp-rate-v1";
const SIG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingToken {
    pub matter_no: String,
    pub service_seq: i64,
    pub expires_unix: i64,
}

fn mac(key: &[u8], t: &RatingToken) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).ok()?;
    m.update(format!("{PURPOSE}|{}|{}|{}", t.matter_no, t.service_seq, t.expires_unix).as_bytes());
    Some(m)
}

impl RatingToken {
    pub fn sign(&self, key: &[u8]) -> String {
        let sig = mac(key, self).map(|m| m.finalize().into_bytes().to_vec()).unwrap_or_default();
        let sig = URL_SAFE_NO_PAD.encode(&sig[..SIG_LEN.min(sig.len())]);
        format!("{}.{}.{}.{}", self.matter_no, self.service_seq, self.expires_unix, sig)
    }

    /// Checks the signature (in constant time) and the expiry.
    pub fn verify(raw: &str, key: &[u8], now_unix: i64) -> Result<Self, DomainError> {
        let bad = || DomainError::new("invalid_token", "token", "评价凭证无效或已被篡改");
        if raw.len() > 200 {
            return Err(bad());
        }
        let parts: Vec<&str> = raw.trim().split('.').collect();
        let [matter, seq, exp, sig] = parts.as_slice() else {
            return Err(bad());
        };
        let t = RatingToken {
            matter_no: (*matter).to_string(),
            service_seq: seq.parse().map_err(|_| bad())?,
            expires_unix: exp.parse().map_err(|_| bad())?,
        };
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| bad())?;
        let m = mac(key, &t).ok_or_else(bad)?;
        m.verify_truncated_left(&sig).map_err(|_| bad())?;
        if sig.len() != SIG_LEN {
            return Err(bad());
        }
        if t.expires_unix < now_unix {
            return Err(DomainError::new("token_expired", "token", "评价凭证已过期，已超出评价期限"));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_tamper_expire() {
        let key = b"0123456789abcdef0123456789abcdef";
        let t = RatingToken { matter_no: "M-1".into(), service_seq: 2, expires_unix: 2_000 };
        let s = t.sign(key);
        assert_eq!(RatingToken::verify(&s, key, 1_000).unwrap(), t);
        assert_eq!(RatingToken::verify(&s, key, 3_000).unwrap_err().code, "token_expired");
        let forged = s.replacen("M-1", "M-2", 1);
        assert_eq!(RatingToken::verify(&forged, key, 1_000).unwrap_err().code, "invalid_token");
        assert_eq!(RatingToken::verify(&s, b"another key", 1_000).unwrap_err().code, "invalid_token");
        assert_eq!(RatingToken::verify("garbage", key, 1_000).unwrap_err().code, "invalid_token");
        let short = &s[..s.len() - 4];
        assert_eq!(RatingToken::verify(short, key, 1_000).unwrap_err().code, "invalid_token");
    }
}
