//! Live capture's view of TCP connections as their packets pass, before the engine reports
//! them (it does so when they end): which ones this capture saw open, whether the server
//! ever answered, and whether they have closed. `modsniff run` stops draining once every
//! connection it saw open has closed, and a connection whose SYNs were never answered is
//! not reported as a stalled transfer (it is still connecting).
//!
//! Also: the Linux cooked headers' ARP frames, which `-i any` delivers and the engine counts
//! as an unsupported ethertype (core's wire/decode.rs, `Network::EtherType` other than IP),
//! are recognised here so that live capture keeps them out of the engine.

use modsniff_core::hooks::wire::{L4, decode};
use modsniff_core::{LinkType, Packet};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Connections watched at once; a new one beyond it is not watched (counted in
/// [`TcpWatch::cut`]) once the closed ones have been forgotten.
pub const MAX_WATCHED: usize = 16_384;

#[derive(Clone, Copy, Debug, Default)]
struct Flow {
    /// A packet came from the server (SYN-ACK, RST, data).
    answered: bool,
    client_fin: bool,
    server_fin: bool,
    reset: bool,
}

impl Flow {
    fn closed(&self) -> bool {
        self.reset || (self.client_fin && self.server_fin)
    }
}

/// TCP connections whose SYN the capture saw, by (client, server).
#[derive(Debug, Default)]
pub struct TcpWatch {
    flows: HashMap<(SocketAddr, SocketAddr), Flow>,
    /// Connections not watched because [`MAX_WATCHED`] were.
    pub cut: u64,
}

impl TcpWatch {
    pub fn packet(&mut self, pkt: &Packet<'_>) {
        let d = decode(pkt.linktype, pkt.data);
        let (Some(ip), L4::Tcp(seg)) = (d.ip, d.l4) else {
            return;
        };
        let src = SocketAddr::new(ip.src, seg.src_port);
        let dst = SocketAddr::new(ip.dst, seg.dst_port);
        let fl = seg.flags;
        if let Some(f) = self.flows.get_mut(&(src, dst)) {
            if fl.syn() && !fl.ack() && f.closed() {
                // The same ports again: a new connection.
                *f = Flow::default();
            }
            f.client_fin |= fl.fin();
            f.reset |= fl.rst();
        } else if let Some(f) = self.flows.get_mut(&(dst, src)) {
            f.answered = true;
            f.server_fin |= fl.fin();
            f.reset |= fl.rst();
        } else if fl.syn() && !fl.ack() {
            if self.flows.len() >= MAX_WATCHED {
                self.flows.retain(|_, f| !f.closed());
                if self.flows.len() >= MAX_WATCHED {
                    self.cut += 1;
                    return;
                }
            }
            self.flows.insert((src, dst), Flow::default());
        }
    }

    /// Every connection seen opening has closed, or never got an answer (nothing more will
    /// come on it once its client is gone).
    pub fn all_closed(&self) -> bool {
        self.flows.values().all(|f| f.closed() || !f.answered)
    }

    /// Whether the server of this connection ever answered; `None` when its SYN was not seen.
    pub fn answered(&self, client: SocketAddr, server: SocketAddr) -> Option<bool> {
        self.flows.get(&(client, server)).map(|f| f.answered)
    }
}

/// ARP and RARP in a Linux cooked header (`tcpdump -i any`): nothing the analysis reads.
#[cfg_attr(not(feature = "live"), allow(dead_code))]
pub fn is_cooked_arp(pkt: &Packet<'_>) -> bool {
    let proto = match pkt.linktype {
        LinkType::LINUX_SLL2 => pkt.data.get(0..2),
        LinkType::LINUX_SLL => pkt.data.get(14..16),
        _ => None,
    };
    matches!(proto, Some([0x08, 0x06] | [0x80, 0x35]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use modsniff_core::Timestamp;

    /// A raw IPv4 TCP packet.
    fn tcp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, flags: u8) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p
    }

    fn push(w: &mut TcpWatch, data: &[u8]) {
        w.packet(&Packet {
            ts: Timestamp::ZERO,
            frame: 1,
            orig_len: data.len() as u32,
            linktype: LinkType::RAW,
            data,
        });
    }

    #[test]
    fn connections_open_answer_and_close() {
        let (c, s) = ([10, 0, 0, 2], [10, 0, 0, 1]);
        let ca: SocketAddr = "10.0.0.2:40000".parse().unwrap();
        let sa: SocketAddr = "10.0.0.1:443".parse().unwrap();
        let mut w = TcpWatch::default();
        assert!(w.all_closed());
        // A connection already open when the capture began is not watched.
        push(&mut w, &tcp(c, 39999, s, 443, 0x10));
        assert!(w.all_closed());
        push(&mut w, &tcp(c, 40000, s, 443, 0x02));
        assert_eq!(w.answered(ca, sa), Some(false));
        // Unanswered SYNs: nothing to wait for.
        assert!(w.all_closed());
        push(&mut w, &tcp(s, 443, c, 40000, 0x12));
        assert_eq!(w.answered(ca, sa), Some(true));
        assert!(!w.all_closed());
        push(&mut w, &tcp(c, 40000, s, 443, 0x11));
        assert!(!w.all_closed());
        push(&mut w, &tcp(s, 443, c, 40000, 0x11));
        assert!(w.all_closed());
        // The same ports again.
        push(&mut w, &tcp(c, 40000, s, 443, 0x02));
        push(&mut w, &tcp(s, 443, c, 40000, 0x12));
        assert!(!w.all_closed());
        push(&mut w, &tcp(s, 443, c, 40000, 0x04));
        assert!(w.all_closed());
        assert_eq!(w.answered(sa, ca), None);
    }

    #[test]
    fn cooked_arp_is_recognised() {
        let mut sll2 = vec![
            0x08, 0x06, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(&[0; 28]);
        let pkt = |linktype, data: &[u8]| {
            is_cooked_arp(&Packet {
                ts: Timestamp::ZERO,
                frame: 1,
                orig_len: 48,
                linktype,
                data,
            })
        };
        assert!(pkt(LinkType::LINUX_SLL2, &sll2));
        sll2[0..2].copy_from_slice(&[0x08, 0x00]);
        assert!(!pkt(LinkType::LINUX_SLL2, &sll2));
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&[0x08, 0x06]);
        assert!(pkt(LinkType::LINUX_SLL, &sll));
        assert!(!pkt(LinkType::ETHERNET, &sll));
        assert!(!pkt(LinkType::LINUX_SLL2, &[0x08]));
    }
}
