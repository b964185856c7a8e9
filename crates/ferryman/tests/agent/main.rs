//! End-to-end tests of `ferryman agent`: job rows inserted by hand into a real sandbox
//! server's jobs table, the real binary running them, real tools, real TCP receivers.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

mod common;
mod crash;
mod failures;
#[path = "../daemons/lines.rs"]
mod lines;
mod logical;
mod physical;
mod reseed;
mod service;
