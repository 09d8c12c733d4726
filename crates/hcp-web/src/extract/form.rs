//! HTML forms (`application/x-www-form-urlencoded`) as the pages post them: repeated keys kept (checkboxes),
//! the body's digest kept (a rating form's idempotency), and the CSRF token checked by the page that reads it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use sha2::{Digest, Sha256};

/// A posted form.
pub struct Form {
    pub pairs: Vec<(String, String)>,
    pub digest: String,
}

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Form { pairs: parse_form(body), digest: hex::encode(Sha256::digest(body)) }
    }

    /// The first value of `key`, as sent.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == key).map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, trimmed, if not blank.
    pub fn get(&self, key: &str) -> Option<String> {
        self.raw(key).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// `get`, or the empty string.
    pub fn text(&self, key: &str) -> String {
        self.get(key).unwrap_or_default()
    }

    /// Every value of `key` (checkboxes), at most `max`.
    pub fn all(&self, key: &str, max: usize) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).take(max).collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state).await.unwrap_or_default();
        Ok(Form::parse(&body))
    }
}

/// Decodes `application/x-www-form-urlencoded` into pairs (repeated keys kept, as checkboxes need).
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = parse_form(b"level=1&reasons=105&reasons=106&text=%E6%85%A2+%E4%BA%86&bad=%zz&tail=%4");
        assert_eq!(f[0], ("level".into(), "1".into()));
        assert_eq!(f.iter().filter(|(k, _)| k == "reasons").count(), 2);
        assert_eq!(f[3].1, "慢 了");
        assert_eq!(f[4].1, "%zz");
        assert_eq!(f[5].1, "%4");
    }
}
