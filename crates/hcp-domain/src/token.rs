//! Rating tokens: signed, single-purpose credentials printed in QR codes and push links. A token names one
//! matter and one service occasion (0 = the matter as a whole, 一事一评), the channel it was issued for (the
//! receipt's QR code, an invitation SMS, the portal, the hall terminal), and expires with the rating window.
//! Format: `MATTER_NO.SEQ.EXPIRES.CH.SIGNATURE` (CH: one letter, see [`link_channel_letter`]; signature:
//! HMAC-SHA256 truncated to 128 bits, base64url). Tokens issued before the channel was signed in
//! (`MATTER_NO.SEQ.EXPIRES.SIGNATURE`, printed on receipts that are still in people's hands) stay valid and
//! name no channel: the rating page takes them as the QR code they were printed as.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::channel::Channel;
use crate::error::DomainError;

const PURPOSE_V1: &str = "hcp-rate-v1";
const PURPOSE: &str = "hcp-rate-v2";
const SIG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingToken {
    pub matter_no: String,
    pub service_seq: i64,
    pub expires_unix: i64,
    /// The channel the link was issued for; `None` for a token issued before channels were signed in.
    pub channel: Option<Channel>,
}

/// The channels a rating link is issued for, with the letter the token carries.
const LINK_CHANNELS: [(Channel, char); 5] =
    [(Channel::Qr, 'q'), (Channel::Sms, 's'), (Channel::Mobile, 'm'), (Channel::Pc, 'p'), (Channel::HallTerminal, 't')];

/// The letter of a channel a rating link may be issued for (`None` for the others: a window device, the
/// hotline, paper, a business system and the province rate without a link).
pub fn link_channel_letter(c: Channel) -> Option<char> {
    LINK_CHANNELS.iter().find(|(ch, _)| *ch == c).map(|(_, l)| *l)
}

fn mac(key: &[u8], t: &RatingToken) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).ok()?;
    match t.channel.and_then(link_channel_letter) {
        Some(l) => m.update(format!("{PURPOSE}|{}|{}|{}|{l}", t.matter_no, t.service_seq, t.expires_unix).as_bytes()),
        None => m.update(format!("{PURPOSE_V1}|{}|{}|{}", t.matter_no, t.service_seq, t.expires_unix).as_bytes()),
    }
    Some(m)
}

impl RatingToken {
    /// A token for a link issued for `channel` (one of the link channels; any other is signed as a QR code).
    pub fn new(matter_no: &str, service_seq: i64, expires_unix: i64, channel: Channel) -> Self {
        let channel = Some(if link_channel_letter(channel).is_some() { channel } else { Channel::Qr });
        RatingToken { matter_no: matter_no.to_string(), service_seq, expires_unix, channel }
    }

    pub fn sign(&self, key: &[u8]) -> String {
        let sig = mac(key, self).map(|m| m.finalize().into_bytes().to_vec()).unwrap_or_default();
        let sig = URL_SAFE_NO_PAD.encode(&sig[..SIG_LEN.min(sig.len())]);
        match self.channel.and_then(link_channel_letter) {
            Some(l) => format!("{}.{}.{}.{l}.{}", self.matter_no, self.service_seq, self.expires_unix, sig),
            None => format!("{}.{}.{}.{}", self.matter_no, self.service_seq, self.expires_unix, sig),
        }
    }

    /// The channel a rating through this link is recorded with: the one it was issued for; a token from
    /// before channels were signed in was printed as a receipt's QR code.
    pub fn rating_channel(&self) -> Channel {
        self.channel.unwrap_or(Channel::Qr)
    }

    /// Checks the signature (in constant time) and the expiry.
    pub fn verify(raw: &str, key: &[u8], now_unix: i64) -> Result<Self, DomainError> {
        let bad = || DomainError::new("invalid_token", "token", "评价凭证无效或已被篡改");
        if raw.len() > 200 {
            return Err(bad());
        }
        let parts: Vec<&str> = raw.trim().split('.').collect();
        let (matter, seq, exp, channel, sig) = match parts.as_slice() {
            [matter, seq, exp, sig] => (matter, seq, exp, None, sig),
            [matter, seq, exp, ch, sig] => {
                let mut letters = ch.chars();
                let (Some(l), None) = (letters.next(), letters.next()) else {
                    return Err(bad());
                };
                let c = LINK_CHANNELS.iter().find(|(_, x)| *x == l).map(|(c, _)| *c).ok_or_else(bad)?;
                (matter, seq, exp, Some(c), sig)
            }
            _ => return Err(bad()),
        };
        // Numbers in their one spelling: `+0` or `00` would make one token many (and dodge per-token limits).
        let number = |s: &str| s.parse::<i64>().ok().filter(|n| n.to_string() == s).ok_or_else(bad);
        let t = RatingToken { matter_no: (*matter).to_string(), service_seq: number(seq)?, expires_unix: number(exp)?, channel };
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
        let t = RatingToken::new("M-1", 2, 2_000, Channel::Qr);
        let s = t.sign(key);
        assert_eq!(s.split('.').nth(3), Some("q"));
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

    #[test]
    fn the_channel_is_signed_in() {
        let key = b"0123456789abcdef0123456789abcdef";
        let sms = RatingToken::new("M-1", 0, 2_000, Channel::Sms).sign(key);
        let t = RatingToken::verify(&sms, key, 1_000).unwrap();
        assert_eq!((t.channel, t.rating_channel()), (Some(Channel::Sms), Channel::Sms));
        // Changing the letter breaks the signature; an unknown letter or two letters are refused outright.
        for forged in [sms.replacen(".s.", ".q.", 1), sms.replacen(".s.", ".z.", 1), sms.replacen(".s.", ".ss.", 1)] {
            assert_eq!(RatingToken::verify(&forged, key, 1_000).unwrap_err().code, "invalid_token", "{forged}");
        }
        // One spelling of each number.
        for respelled in [sms.replacen("M-1.0.", "M-1.+0.", 1), sms.replacen("M-1.0.", "M-1.00.", 1)] {
            assert_eq!(RatingToken::verify(&respelled, key, 1_000).unwrap_err().code, "invalid_token", "{respelled}");
        }
        // A channel that is never issued as a link is signed as the QR code.
        assert_eq!(RatingToken::new("M-1", 0, 2_000, Channel::Pad).channel, Some(Channel::Qr));
        // A token printed before the channel was signed in still works, as the QR code it was.
        let old = RatingToken { matter_no: "M-1".into(), service_seq: 3, expires_unix: 2_000, channel: None };
        let raw = old.sign(key);
        assert_eq!(raw.split('.').count(), 4);
        let back = RatingToken::verify(&raw, key, 1_000).unwrap();
        assert_eq!((back.channel, back.rating_channel()), (None, Channel::Qr));
        // …and cannot be turned into a token of another channel.
        let parts: Vec<&str> = raw.split('.').collect();
        let upgraded = format!("{}.{}.{}.m.{}", parts[0], parts[1], parts[2], parts[3]);
        assert_eq!(RatingToken::verify(&upgraded, key, 1_000).unwrap_err().code, "invalid_token");
    }
}
