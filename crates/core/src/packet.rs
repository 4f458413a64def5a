//! What a packet source hands to the engine.

use crate::time::Timestamp;
use std::fmt;

/// A link-layer header type, as the pcap/pcapng file or libpcap names it (the LINKTYPE_*
/// registry). An open newtype: unknown values are carried, counted and skipped, never fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet (with 802.1Q / QinQ tags).
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP as some systems write it (DLT_RAW was 12 on OpenBSD, 14 elsewhere).
    pub const RAW_OLD12: LinkType = LinkType(12);
    /// See `RAW_OLD12`.
    pub const RAW_OLD14: LinkType = LinkType(14);
    /// OpenBSD loopback: like NULL but the family is always big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Raw IPv4 or IPv6 (the version nibble tells).
    pub const RAW: LinkType = LinkType(101);
    /// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (`tcpdump -i any` since libpcap 1.10).
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// Linux netfilter log messages.
    pub const NFLOG: LinkType = LinkType(239);
    /// Cisco HDLC: address, control, then an ethertype (serial links, router captures).
    pub const C_HDLC: LinkType = LinkType(104);

    /// The LINKTYPE_ name without its prefix (`"ETHERNET"`), `"unknown"` for others.
    pub fn name(self) -> &'static str {
        match self {
            Self::NULL => "NULL",
            Self::ETHERNET => "ETHERNET",
            Self::RAW | Self::RAW_OLD12 | Self::RAW_OLD14 => "RAW",
            Self::LOOP => "LOOP",
            Self::LINUX_SLL => "LINUX_SLL",
            Self::IPV4 => "IPV4",
            Self::IPV6 => "IPV6",
            Self::LINUX_SLL2 => "LINUX_SLL2",
            Self::NFLOG => "NFLOG",
            Self::C_HDLC => "C_HDLC",
            _ => "unknown",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// One captured packet, borrowed from the source's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// When it was captured.
    pub ts: Timestamp,
    /// 1-based frame number, as Wireshark counts it across the whole input.
    pub frame: u64,
    /// The packet's length on the wire; `data.len()` is what was captured (snaplen).
    pub orig_len: u32,
    /// How `data` starts.
    pub linktype: LinkType,
    /// The captured bytes, from the link-layer header on.
    pub data: &'a [u8],
}

impl Packet<'_> {
    /// True when the capture kept fewer bytes than were on the wire (snaplen).
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < self.orig_len as u64
    }
}
