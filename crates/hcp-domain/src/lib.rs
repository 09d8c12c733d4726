//! Pure rules of haochaping (好差评): checked input types, the rating rules, the indicator catalogue, who may
//! do what (`access::can`), the case state machine and its typed events, 复核, deadlines in working days, the
//! records the ledger protects with their canonical byte encodings, and the definitions of the statistics
//! (one list of rollup keys).
//!
//! Nothing here does IO or is async: the storage and web crates call into it.

pub mod access;
pub mod appeal;
pub mod audit;
pub mod bizday;
pub mod case_event;
pub mod case_flow;
pub mod case_history;
pub mod case_metrics;
pub mod cases;
pub mod catalogue;
pub mod channel;
pub mod error;
pub mod ids;
pub mod ledger;
pub mod level;
pub mod master;
pub mod national;
pub mod notices;
pub mod person;
pub mod province;
pub mod rating;
pub mod records;
pub mod sms;
pub mod stats;
pub mod timestamp;
pub mod token;
pub mod totp;
pub mod work_calendar;

pub use bizday::BizDay;
pub use catalogue::Catalogue;
pub use channel::Channel;
pub use error::DomainError;
pub use level::Level;
pub use timestamp::Timestamp;
