//! Extractors: who is calling, from where, and bodies and queries parsed by us so that every malformed request
//! gets the error shape of the API with the field named.

pub mod caller;
pub mod form;
pub mod json;
pub mod origin;
pub mod query;

pub use caller::{Bearer, SESSION_COOKIE, cookie_value};
pub use form::Form;
pub use json::{ApiJson, CsvBody, MAX_BODY};
pub use origin::origin;
pub use query::ApiQuery;
