//! Prints SNI, ALPN and JA4 of every TLS connection in a capture, embedding modsniff-core:
//! `cargo run --release -p modsniff-examples --example sni_dump -- capture.pcap`.

use modsniff_capture::FileSource;
use modsniff_core::{Config, Engine, Event};
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: sni_dump CAPTURE (pcap or pcapng; - for stdin)");
        return ExitCode::from(2);
    };
    let mut src = match FileSource::open(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sni_dump: {e}");
            return ExitCode::from(2);
        }
    };
    let mut engine = Engine::new(Config::default());
    let mut print = |ev: Event| {
        let Event::Connection(c) = ev else { return };
        let Some(tls) = c.tls.as_deref() else { return };
        let Some(hello) = tls.client_hello.as_ref() else {
            return;
        };
        println!(
            "{:<45} sni={:<30} alpn={:<12} ja4={}",
            format!("{} -> {}", c.client, c.server),
            hello.sni.as_deref().unwrap_or("-"),
            hello.alpn.join(","),
            hello.ja4
        );
    };
    loop {
        match src.next_packet() {
            Ok(Some(pkt)) => engine.push(&pkt, &mut print),
            Ok(None) => break,
            Err(e) => {
                eprintln!("sni_dump: {e}");
                break;
            }
        }
    }
    engine.finish(&mut print);
    ExitCode::SUCCESS
}
