//! What modsniff knows about Go: which connections are module traffic, and the user's
//! settings that decide where the go command connects.

pub mod hosts;
pub mod paths;
pub mod settings;
// What the go command said on stderr: `modsniff run` reads it as it comes, `read
// --go-stderr` from a file (what only `run` needs is unused without the `live` feature).
pub mod stderr;
#[cfg_attr(not(feature = "live"), allow(dead_code))]
pub mod trace;

pub use hosts::{GoRole, classify_host};
pub use paths::{Endpoint, GoRequest};
pub use settings::GoSettings;
