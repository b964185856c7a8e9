//! The `ferryman` binary: command-line parsing, logging set-up and exit codes; no logic.

fn main() {}
