//! Real receivers for outbound messages: an HTTP server standing in for an SMS gateway, and an SMTP server
//! speaking enough of RFC 5321 for a real client to deliver to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// A request's JSON body and its Authorization header.
pub type Received = (Value, Option<String>);

/// What the SMS gateway received.
#[derive(Clone, Default)]
pub struct SmsGateway {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    /// answer the next this-many requests with 503
    pub fail_next: Arc<AtomicUsize>,
}

impl SmsGateway {
    pub async fn start() -> SmsGateway {
        let mut gw = SmsGateway::default();
        let inner = gw.clone();
        let app = axum::Router::new().route(
            "/sms/send",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let gw = inner.clone();
                async move {
                    if gw.fail_next.load(Ordering::SeqCst) > 0 {
                        gw.fail_next.fetch_sub(1, Ordering::SeqCst);
                        return (StatusCode::SERVICE_UNAVAILABLE, "busy".to_string());
                    }
                    let v: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                    let auth = headers.get("authorization").and_then(|a| a.to_str().ok()).map(String::from);
                    gw.got.lock().await.push((v, auth));
                    (StatusCode::OK, "{\"code\":0,\"msg\":\"accepted\"}".to_string())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        gw.url = format!("http://{}/sms/send", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        gw
    }

    /// `(phone, text)` of every message received.
    pub async fn messages(&self) -> Vec<(String, String)> {
        self.got
            .lock()
            .await
            .iter()
            .map(|(v, _)| (v["phone"].as_str().unwrap_or_default().to_string(), v["text"].as_str().unwrap_or_default().to_string()))
            .collect()
    }
}

/// A decoded e-mail.
#[derive(Debug, Clone)]
pub struct Mail {
    pub rcpt: Vec<String>,
    pub subject: String,
    pub body: String,
}

#[derive(Clone, Default)]
pub struct SmtpServer {
    pub url: String,
    pub mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = SmtpServer { url: format!("smtp://{}", listener.local_addr().unwrap()), mails: Default::default() };
        let mails = server.mails.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let mails = mails.clone();
                tokio::spawn(async move {
                    let (r, mut w) = conn.into_split();
                    let mut r = BufReader::new(r);
                    let _ = w.write_all(b"220 test.local ESMTP ready\r\n").await;
                    let mut rcpt = Vec::new();
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            break;
                        }
                        let up = line.to_ascii_uppercase();
                        let reply: &[u8] = if up.starts_with("EHLO") || up.starts_with("HELO") {
                            b"250 test.local\r\n"
                        } else if up.starts_with("RCPT TO:") {
                            rcpt.push(line[8..].trim().trim_matches(|c| c == '<' || c == '>').to_string());
                            b"250 OK\r\n"
                        } else if up.starts_with("MAIL") || up.starts_with("RSET") || up.starts_with("NOOP") {
                            b"250 OK\r\n"
                        } else if up.starts_with("DATA") {
                            let _ = w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                if r.read_line(&mut l).await.unwrap_or(0) == 0 || l == ".\r\n" {
                                    break;
                                }
                                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                            }
                            let (subject, body) = decode(&data);
                            mails.lock().await.push(Mail { rcpt: std::mem::take(&mut rcpt), subject, body });
                            b"250 2.0.0 queued as T1\r\n"
                        } else if up.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"502 not implemented\r\n"
                        };
                        let _ = w.write_all(reply).await;
                    }
                });
            }
        });
        server
    }
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=` / `?q?`) in a header value.
fn decode_words(v: &str) -> String {
    let mut out = String::new();
    for part in v.split_whitespace() {
        let lower = part.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && part.ends_with("?=") {
            let b = base64::engine::general_purpose::STANDARD.decode(&part[10..part.len() - 2]).unwrap_or_default();
            out.push_str(&String::from_utf8_lossy(&b));
        } else if lower.starts_with("=?utf-8?q?") && part.ends_with("?=") {
            out.push_str(&quoted_printable(&part[10..part.len() - 2].replace('_', " ")));
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part);
        }
    }
    out
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The subject and the text body of a message as sent on the wire.
fn decode(data: &str) -> (String, String) {
    let (head, body) = data.split_once("\r\n\r\n").unwrap_or((data, ""));
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let header = |name: &str| {
        unfolded
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
            .map(|l| l[name.len() + 1..].trim().to_string())
            .unwrap_or_default()
    };
    let subject = decode_words(&header("Subject"));
    let body = match header("Content-Transfer-Encoding").to_ascii_lowercase().as_str() {
        "base64" => {
            String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(body.replace("\r\n", "")).unwrap_or_default())
                .into_owned()
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_string(),
    };
    (subject, body)
}
