//! The second factor of administrator accounts: time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second
//! steps, 6 digits), as every authenticator app computes them; secrets travel in base32 (RFC 4648).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

const STEP: i64 = 30;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The code for `unix_time` (RFC 4226 dynamic truncation of the counter's HMAC).
pub fn code_at(secret: &[u8], unix_time: i64) -> u32 {
    let counter = (unix_time.max(0) / STEP) as u64;
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else { return 0 };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin =
        (u32::from(h[offset]) & 0x7f) << 24 | u32::from(h[offset + 1]) << 16 | u32::from(h[offset + 2]) << 8 | u32::from(h[offset + 3]);
    bin % 1_000_000
}

/// Whether `code` (six digits) is valid now, allowing one step of clock drift either way. Returns the step it
/// matched, so that a code cannot be used twice.
pub fn verify(secret: &[u8], code: &str, unix_time: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let want: u32 = code.parse().ok()?;
    (-1..=1).map(|d| unix_time + d * STEP).find(|t| code_at(secret, *t) == want).map(|t| t / STEP)
}

pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let mut buf: u32 = 0;
    let mut bits = 0;
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ALPHABET[((buf >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf: u32 = 0;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push(((buf >> (bits - 8)) & 0xff) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app reads (usually from a QR code).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
    format!("otpauth://totp/{}:{}?secret={}&issuer={}&period=30&digits=6", enc(issuer), enc(account), base32_encode(secret), enc(issuer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1, truncated to six digits.
        let secret = b"12345678901234567890";
        for (t, code) in [(59, 287_082), (1_111_111_109, 81_804), (1_111_111_111, 50_471), (1_234_567_890, 5_924), (2_000_000_000, 279_037)]
        {
            assert_eq!(code_at(secret, t), code, "t = {t}");
        }
        assert_eq!(verify(secret, "287082", 59), Some(1));
        assert_eq!(verify(secret, "287082", 59 + 30), Some(1), "one step of drift");
        assert_eq!(verify(secret, "287082", 59 + 90), None);
        assert_eq!(verify(secret, "28708", 59), None);
        assert_eq!(verify(secret, "abcdef", 59), None);
    }

    #[test]
    fn base32_round_trip() {
        assert_eq!(base32_encode(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(), b"12345678901234567890");
        assert_eq!(base32_decode("gezd gnbv").unwrap(), base32_decode("GEZDGNBV").unwrap());
        assert!(base32_decode("1!").is_none());
        assert!(otpauth_uri("陇县 好差评", "admin", b"ab").starts_with("otpauth://totp/%E9%99%87"));
    }
}
