//! HTTP adapters of haochaping: the JSON API under `/api/v1` with its OpenAPI description, receipts with
//! QR codes, and the minimal rating page. Handlers extract, authorize, call one storage/domain function and
//! render; errors are mapped to responses in one place (`error.rs`).

pub mod access;
pub mod api;
pub mod auth;
pub mod error;
pub mod guard;
pub mod json;
pub mod pages;
pub mod qr;
pub mod state;

pub use api::build_router;
pub use state::{AppState, WebConfig};
