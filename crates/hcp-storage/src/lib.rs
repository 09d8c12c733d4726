//! Storage of haochaping on SQLite (the default, embedded) or PostgreSQL (a province, several nodes), with
//! the same SQL text on both wherever the engines allow it.

pub mod audit;
pub mod calendar;
pub mod cases;
pub mod catalogue;
pub mod chain;
pub mod complaints;
pub mod db;
pub mod dead_letters;
pub mod error;
pub mod invitations;
pub mod keys;
pub mod master;
pub mod matters;
pub mod notifications;
pub mod pii;
pub mod province;
pub mod ratings;
pub mod rectifications;
pub mod rows;
pub mod stats;
pub mod tx;
pub mod users;
pub mod verify;

pub use db::Db;
pub use error::{Conflict, StoreError};
