//! Examples that embed modsniff-core: see `flows.rs` and `sni_dump.rs`.
//! Run them with `cargo run --release -p modsniff-examples --example flows -- CAPTURE`.
