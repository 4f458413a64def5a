//! What modsniff knows about Go: which connections are module traffic, and the user's
//! settings that decide where the go command connects.

pub mod hosts;
pub mod paths;
pub mod settings;

pub use hosts::{GoRole, classify_host};
pub use paths::{Endpoint, GoRequest};
pub use settings::GoSettings;
