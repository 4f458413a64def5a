//! Zeek's connection history letters and conn_state.
//!
//! Letters (upper case for the client, lower case for the server), each recorded the first
//! time it happens in that direction, except T (retransmission), W (zero window) and G (gap),
//! which are recorded again at the 10th, 100th and 1000th occurrence as Zeek does:
//! S SYN without ACK, H SYN-ACK, A pure ACK, D payload (in a packet without SYN, FIN or
//! RST), F FIN, R RST, G content gap (bytes the peer's ACK passed that were never captured),
//! T retransmission, W zero window, I inconsistent flags (FIN with RST), Q other mixes of
//! SYN, FIN and RST (a packet with two or more of them gets I or Q instead of their letters),
//! ^ the endpoints were flipped (the first packet came from the side we judged the server).

use crate::types::Side;

/// The state of one endpoint, as Zeek's TCP_Endpoint tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EndpointState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    /// Seen only mid-stream (no SYN).
    Partial,
    Established,
    Closed,
    Reset,
}

/// History letters for both directions, in the order they happened.
#[derive(Clone, Debug, Default)]
pub struct History {
    letters: String,
    seen: [u32; 2],
    repeats: [[u16; 3]; 2],
}

const REPEATED: [u8; 3] = [b'T', b'W', b'G'];

impl History {
    /// Records `letter` (given in upper case) for `side`.
    pub fn add(&mut self, side: Side, letter: u8) {
        let bit = 1u32 << (letter.wrapping_sub(b'A') as u32 % 26);
        let s = side.index();
        let ch = if side == Side::Client {
            letter
        } else {
            letter.to_ascii_lowercase()
        };
        if let Some(i) = REPEATED.iter().position(|&l| l == letter) {
            let Some(n) = self.repeats.get_mut(s).and_then(|r| r.get_mut(i)) else {
                return;
            };
            *n = n.saturating_add(1);
            if matches!(*n, 1 | 10 | 100 | 1000) {
                self.letters.push(ch as char);
            }
            return;
        }
        let Some(seen) = self.seen.get_mut(s) else {
            return;
        };
        if *seen & bit == 0 {
            *seen |= bit;
            self.letters.push(ch as char);
        }
    }

    /// Marks the connection as flipped (`^` first), when the first packet came from the server.
    pub fn flip(&mut self) {
        self.letters.insert(0, '^');
    }

    pub fn as_str(&self) -> &str {
        &self.letters
    }

    /// The letters, taken out (the connection is ending).
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.letters)
    }
}

/// Zeek's conn_state from the two endpoint states (base/protocols/conn/main.zeek).
pub fn conn_state(
    client: EndpointState,
    server: EndpointState,
    history: &History,
    no_payload: bool,
) -> &'static str {
    use EndpointState::*;
    let c_inactive = matches!(client, Inactive | Partial);
    let s_inactive = matches!(server, Inactive | Partial);
    if server == Reset {
        if matches!(client, SynSent | SynAckSent) || (client == Reset && no_payload) {
            "REJ"
        } else if c_inactive {
            "RSTRH"
        } else {
            "RSTR"
        }
    } else if client == Reset {
        if !s_inactive {
            "RSTO"
        } else if is_syn_then_reset(history.as_str()) {
            "RSTOS0"
        } else {
            // A RST with no SYN before it, or after other packets of the client (an ACK, a
            // FIN, a FIN with the RST): Zeek calls those OTH.
            "OTH"
        }
    } else if client == Closed && server == Closed {
        "SF"
    } else if client == Closed {
        if s_inactive { "SH" } else { "S2" }
    } else if server == Closed {
        if c_inactive { "SHR" } else { "S3" }
    } else if client == SynSent && server == Inactive {
        "S0"
    } else if client == Established && server == Established {
        "S1"
    } else {
        "OTH"
    }
}

/// The history opens with the client's SYN and the client's RST comes before any other
/// client packet but data or repeats (Zeek's `/\^?S[^HAFGIQ]*R.*/`, case-sensitive: the
/// server's letters do not count).
fn is_syn_then_reset(history: &str) -> bool {
    let h = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use EndpointState::*;

    #[test]
    fn letters_once_and_repeats() {
        let mut h = History::default();
        h.add(Side::Client, b'S');
        h.add(Side::Server, b'H');
        h.add(Side::Client, b'A');
        h.add(Side::Client, b'A');
        for _ in 0..10 {
            h.add(Side::Server, b'T');
        }
        assert_eq!(h.as_str(), "ShAtt");
    }

    #[test]
    fn states() {
        let h = History::default();
        assert_eq!(conn_state(SynSent, Inactive, &h, true), "S0");
        assert_eq!(conn_state(SynSent, Reset, &h, true), "REJ");
        assert_eq!(conn_state(Established, Established, &h, false), "S1");
        assert_eq!(conn_state(Closed, Closed, &h, false), "SF");
        assert_eq!(conn_state(Established, Reset, &h, false), "RSTR");
        assert_eq!(conn_state(Reset, Established, &h, false), "RSTO");
        assert_eq!(conn_state(Partial, Partial, &h, false), "OTH");
    }

    #[test]
    fn syn_then_reset_shape() {
        // Zeek's conn_state-RST-behavior baseline, and the FIN+RST letter.
        assert!(is_syn_then_reset("SR"));
        assert!(is_syn_then_reset("SaR"));
        assert!(is_syn_then_reset("^SdR"));
        assert!(!is_syn_then_reset("SaFR"));
        assert!(!is_syn_then_reset("R"));
        assert!(!is_syn_then_reset("SI"));
        assert!(!is_syn_then_reset("SAR"));
    }
}
