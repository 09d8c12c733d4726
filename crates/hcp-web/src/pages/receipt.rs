//! The printable receipt (办件回执) of a matter, with the QR code of its rating page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use hcp_app::matters::Receipt;

use super::{minute, render};

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage<'a> {
    r: &'a Receipt,
    accepted: String,
    completed: String,
    qr: String,
}

pub fn page(r: &Receipt) -> Result<Response, hcp_app::AppError> {
    let page = ReceiptPage {
        r,
        accepted: minute(r.accepted_at),
        completed: r.completed_at.map(minute).unwrap_or_else(|| "办理中".into()),
        qr: crate::qr::svg(&r.rating_url)?,
    };
    Ok(render(StatusCode::OK, &page))
}
