//! Prints SNI, ALPN and JA4 of every ClientHello in a capture as it is decoded, embedding
//! modsniff-core: `cargo run --release -p modsniff-examples --example sni_dump -- capture.pcap`.
//!
//! It asks the engine for `ClientHello` events only, so a line appears at the frame that
//! completed the hello, not when the connection ends (a stalled download shows its SNI at once).

use modsniff_capture::FileSource;
use modsniff_core::{Config, Engine, Event, EventMask};
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
    let config = Config {
        events: EventMask::CLIENT_HELLO,
        ..Config::default()
    };
    let mut engine = Engine::new(config);
    let mut print = |ev: Event| {
        let Event::ClientHello(ev) = ev else { return };
        let hello = &ev.data;
        println!(
            "frame {:<7} {:<45} sni={:<30} alpn={:<12} ja4={}",
            ev.frame,
            format!("{} -> {}", ev.client, ev.server),
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
