//! The command-line contract: exit codes, output records, and behaviour on real captures.
//! One integration binary (ripgrep's tests/tests.rs layout); modules by concern.

mod common;
mod contract;
mod corpus;
mod evidence;
mod extract;
mod filter;
mod fixtures;
mod fleet;
mod go_stderr;
mod hostile;
mod hostile_bounds;
mod hostile_floods;
mod html;
mod interfaces;
mod live;
mod man;
mod matrix;
mod oracle;
mod peers;
mod pipes;
mod run;
mod run_stderr;
mod scenarios;
mod schema;
mod terminal;
mod threads;
mod wire_types;
