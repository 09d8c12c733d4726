//! The integration tests, one binary (one link, one process to run): the real application on a fresh real
//! database (a SQLite file or a new PostgreSQL database per test), driven over HTTP, the command line and the
//! workers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

mod access_matrix;
mod calendar;
mod cases;
mod cli;
mod connected;
mod ledger_api;
mod notifications;
mod operating;
mod overdue;
mod pages;
mod province;
mod rating_page;
mod responses;
mod security;
mod working_day;
