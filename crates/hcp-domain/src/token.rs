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

/// The rater's link to a case: read the reply, give a verdict on the handling, make the one follow-up rating
/// (追评). Format `CASE_ID.EXPIRES.SIGNATURE`, signed for its own purpose so a rating token cannot stand in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackToken {
    pub case_id: String,
    pub expires_unix: i64,
}

const FEEDBACK_PURPOSE: &str = "hcp-feedback-v1";

fn feedback_mac(key: &[u8], case_id: &str, expires_unix: i64) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).ok()?;
    m.update(format!("{FEEDBACK_PURPOSE}|{case_id}|{expires_unix}").as_bytes());
    Some(m)
}

impl FeedbackToken {
    pub fn sign(&self, key: &[u8]) -> String {
        let sig = feedback_mac(key, &self.case_id, self.expires_unix).map(|m| m.finalize().into_bytes().to_vec()).unwrap_or_default();
        format!("{}.{}.{}", self.case_id, self.expires_unix, URL_SAFE_NO_PAD.encode(&sig[..SIG_LEN.min(sig.len())]))
    }

    pub fn verify(raw: &str, key: &[u8], now_unix: i64) -> Result<Self, DomainError> {
        let bad = || DomainError::new("invalid_token", "token", "反馈链接无效或已被篡改");
        if raw.len() > 200 {
            return Err(bad());
        }
        let parts: Vec<&str> = raw.trim().split('.').collect();
        let [case_id, exp, sig] = parts.as_slice() else {
            return Err(bad());
        };
        let expires_unix: i64 = exp.parse().map_err(|_| bad())?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| bad())?;
        if sig.len() != SIG_LEN {
            return Err(bad());
        }
        feedback_mac(key, case_id, expires_unix).ok_or_else(bad)?.verify_truncated_left(&sig).map_err(|_| bad())?;
        if expires_unix < now_unix {
            return Err(DomainError::new("token_expired", "token", "反馈链接已过期"));
        }
        Ok(FeedbackToken { case_id: (*case_id).to_string(), expires_unix })
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
        // A rating token's signature does not make a feedback link, and the other way round.
        let f = FeedbackToken { case_id: "0193-case".into(), expires_unix: 2_000 };
        let fs = f.sign(key);
        assert_eq!(FeedbackToken::verify(&fs, key, 1_000).unwrap(), f);
        assert_eq!(FeedbackToken::verify(&fs, key, 3_000).unwrap_err().code, "token_expired");
        assert_eq!(FeedbackToken::verify(&fs.replacen("0193", "0194", 1), key, 1_000).unwrap_err().code, "invalid_token");
        assert_eq!(RatingToken::verify(&format!("M.{fs}"), key, 1_000).unwrap_err().code, "invalid_token");
        assert_eq!(RatingToken::verify(short, key, 1_000).unwrap_err().code, "invalid_token");
    }
}
