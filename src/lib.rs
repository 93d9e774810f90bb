//! nurture — a batch marketing-automation worker.
//!
//! ```text
//! CSV/XLSX/ODS ─▶ contacts::read ─▶ contacts::import ─▶ intake ─▶ store
//! jobs/*.toml ─▶ plans::expand(date) ─▶ DueTouch ─┬─▶ queue::enqueue ─▶ apalis-redis
//!                                                  └─▶ agenda (call/card/gift)
//! apalis-redis ─▶ deliver: render ─▶ compliance::check ─▶ send ─▶ ledger
//! IMAP / POST /inbound/email ─▶ inbound: read ─▶ classify (bounce, complaint, reply,
//!     auto-reply, mailed opt-out) ─▶ the same suppression / events paths
//! ```
//!
//! Glossary: a *plan* is a file in `jobs/`; a *job* is always a queue job; a *touch* is one
//! step of a plan; a *DueTouch* is a touch due for a contact on a date; a *message* is a
//! rendered touch; a *delivery* is a ledger entry.

pub mod calendar;
pub mod clock;
pub mod config;
pub mod diagnostic;

pub mod contacts;
pub mod history;
pub mod plans;
pub mod webhooks;
pub mod workspace;

pub mod agenda;
pub mod assign;
pub mod backup;
pub mod compliance;
pub mod ledger;
pub mod queue;
pub mod render;
pub mod report;
pub mod send;
pub mod store;

pub mod compose;
pub mod consent;
pub mod deliver;
pub mod events;
pub mod facts;
pub mod forget;
pub mod inbound;
pub mod intake;
pub mod lanes;
pub mod leads;
pub mod nightly;
pub mod preview;
pub mod private_file;
pub mod server;

pub mod cli;
