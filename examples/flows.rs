//! Lists a capture's TCP connections with Zeek's conn_state and history, embedding
//! modsniff-core: `cargo run --release -p modsniff-examples --example flows -- capture.pcap`.
//! With `--summary` it prints only the totals: bench/run.sh times decode + flows +
//! reassembly that way (the foundation's figure), without the cost of printing rows.

use modsniff_capture::FileSource;
use modsniff_core::Transport;
use modsniff_core::{Config, Engine, Event};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let summary = args.first().is_some_and(|a| a == "--summary");
    if summary {
        args.remove(0);
    }
    let Some(path) = args.first() else {
        eprintln!("usage: flows [--summary] CAPTURE (pcap or pcapng; - for stdin)");
        return ExitCode::from(2);
    };
    let mut src = match FileSource::open(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("flows: {e}");
            return ExitCode::from(2);
        }
    };
    // Flows and reassembly only: no TLS/HTTP/DNS decoding needed to list connections.
    let mut engine = Engine::new(Config {
        no_app_decoders: true,
        ..Config::default()
    });
    let mut print = |ev: Event| {
        if let Event::Connection(c) = ev
            && c.transport == Transport::Tcp
            && !summary
        {
            println!(
                "{:>5}  {:<45} {:<6} {:<14} {:>9} {:>9}",
                c.id,
                format!("{} -> {}", c.client, c.server),
                c.state,
                c.history,
                c.client_stats.bytes,
                c.server_stats.bytes
            );
        }
    };
    if !summary {
        println!(
            "{:>5}  {:<45} {:<6} {:<14} {:>9} {:>9}",
            "id", "client -> server", "state", "history", "c bytes", "s bytes"
        );
    }
    loop {
        match src.next_packet() {
            Ok(Some(pkt)) => engine.push(&pkt, &mut print),
            Ok(None) => break,
            Err(e) => {
                eprintln!("flows: {e}");
                break;
            }
        }
    }
    let stats = engine.finish(&mut print);
    for w in src.warnings() {
        eprintln!("flows: warning: {w}");
    }
    eprintln!(
        "{} packets, {} TCP connections",
        stats.packets, stats.tcp_connections
    );
    ExitCode::SUCCESS
}
