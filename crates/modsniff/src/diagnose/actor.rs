//! Who sent a reset (or an answer): the server, or a middlebox forging the server's address.
//!
//! Signals (Weaver, Sommer and Paxson, "Detecting Forged TCP Reset Packets", NDSS 2009), each
//! stated in the summary when it gives a reset away:
//! - its TTL / hop limit differs from the server's other packets on the same connection, or
//!   from what that address sends elsewhere in the capture;
//! - it arrives with an initial TTL (64, 128, 255) where the server is a routed hop away: the
//!   adjacent hop made it;
//! - its IPv4 ID is unlike the server's (0 where the server's packets count up);
//! - the real server kept talking after it (server data after the RST);
//! - consecutive RSTs jump in sequence (RST_SEQ_CHANGE).

use modsniff_core::Side;
use modsniff_core::{Connection, ResetInfo, Timestamp};
use std::net::IpAddr;

/// Initial TTLs of common stacks: a packet that arrives with one was made one hop away.
pub const INITIAL_TTLS: [u8; 3] = [64, 128, 255];

/// TTLs seen from an address across the capture (as a server, non-RST packets).
#[derive(Clone, Copy, Debug, Default)]
pub struct TtlRange {
    pub min: u8,
    pub max: u8,
}

/// Verdict on who sent a packet claiming to be the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sender {
    Server,
    /// Forged, with the reasons that gave it away.
    Middlebox(Vec<String>),
}

/// Whether the server address looks like it is on the client's own link (same /24 or /64):
/// then an initial TTL proves nothing.
pub fn same_subnet(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.segments()[..4] == b.segments()[..4],
        _ => false,
    }
}

/// Judges RSTs that claim to come from the server side of `c`. `elsewhere` is the TTL range
/// the server's address showed on other connections of the capture.
pub fn judge_server_rsts(
    c: &Connection,
    rsts: &[&ResetInfo],
    elsewhere: Option<TtlRange>,
) -> Sender {
    let mut why = Vec::new();
    let s = &c.server_stats;
    let Some(first) = rsts.first() else {
        return Sender::Server;
    };
    let (own_min, own_max) = (s.ttl_min, s.ttl_max);
    let reference = match (own_min, own_max) {
        (Some(a), Some(b)) => Some((a, b, "the server's other packets")),
        _ => elsewhere.map(|r| {
            (
                r.min,
                r.max,
                "what this address sends elsewhere in the capture",
            )
        }),
    };
    for r in rsts {
        if let Some((lo, hi, what)) = reference {
            if r.ttl < lo || r.ttl > hi {
                let seen = if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo}-{hi}")
                };
                why.push(format!("its TTL {} differs from {what} ({seen})", r.ttl));
                break;
            }
        } else if INITIAL_TTLS.contains(&r.ttl)
            && !same_subnet(c.client.ip(), c.server.ip())
            && !c.server.ip().is_loopback()
        {
            why.push(format!(
                "it arrived with TTL {}, an initial value: it was made by the adjacent hop, not by a host behind it",
                r.ttl
            ));
            break;
        }
    }
    if let (Some(rid), Some(sid)) = (first.ip_id, s.ip_id_last)
        && rid == 0
        && sid != 0
        && !why.is_empty()
    {
        why.push(format!(
            "its IP ID is 0 where the server's count up ({sid})"
        ));
    }
    // The real server's packets after the reset: a middlebox raced it.
    if let Some(last) = s.last_data_frame
        && last > first.packet
        && s.ttl_min.is_some()
    {
        why.push(format!(
            "the server kept sending data after it (frame {last})"
        ));
    }
    // RST_SEQ_CHANGE: consecutive RSTs whose sequence numbers jump. Not a RST without ACK at
    // or behind the first one: a host that no longer has the connection answers each segment
    // still arriving with such a reset, numbered from that segment's acknowledgement (RFC 9293
    // 3.10.7.1), and on a slow path those acknowledge what the server sent long before; a
    // forger spraying the window numbers its resets forward from where the client is.
    for w in rsts.windows(2) {
        if let [a, b] = w {
            if !b.acknowledges && first.seq.wrapping_sub(b.seq) as i32 >= 0 {
                continue;
            }
            let d = b.seq.wrapping_sub(a.seq);
            if d != 0 && d > 2 && (d as i32).unsigned_abs() > 2 {
                why.push(format!(
                    "consecutive resets jump in sequence ({} then {})",
                    a.seq, b.seq
                ));
                break;
            }
        }
    }
    if why.is_empty() {
        Sender::Server
    } else {
        Sender::Middlebox(why)
    }
}

/// The RSTs of `c` sent from the server's address.
pub fn server_rsts(c: &Connection) -> Vec<&ResetInfo> {
    c.resets.iter().filter(|r| r.from == Side::Server).collect()
}

/// Whether the packet `a` (its time, its frame) came before `b`: by time, then by frame.
/// The engine reads packets in that order (the reader's reorder window hands them out by
/// time, equal times in file order), and a file written out of order numbers its frames in
/// another: frame numbers alone cannot tell which of two sides' packets came first.
pub fn came_before(a: (Option<Timestamp>, u64), b: (Option<Timestamp>, u64)) -> bool {
    match (a.0, b.0) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a.1 < b.1,
    }
}

/// A side's FIN: its time and frame.
pub fn fin_of(st: &modsniff_core::SideStats) -> Option<(Option<Timestamp>, u64)> {
    st.fin_frame.map(|f| (st.fin_ts, f))
}

/// A reset's time and frame.
pub fn reset_at(r: &ResetInfo) -> (Option<Timestamp>, u64) {
    (Some(r.ts), r.packet)
}

/// The server's side closed (FIN) before the client closed or reset: its own decision, not an
/// answer to the client's close.
pub fn server_closed_first(c: &Connection) -> bool {
    let Some(fin) = fin_of(&c.server_stats) else {
        return false;
    };
    let client_fin_first = fin_of(&c.client_stats).is_some_and(|cf| came_before(cf, fin));
    let client_rst_first = c
        .resets
        .iter()
        .any(|r| r.from == Side::Client && came_before(reset_at(r), fin));
    !(client_fin_first || client_rst_first)
}
