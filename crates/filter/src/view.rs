//! Typed views of the header fields a filter reads, at the offsets libpcap's BPF code reads
//! them.
//!
//! BPF loads fields at fixed offsets and checks nothing but that the load fits in the
//! captured bytes. These views do the same: every accessor returns `Err(OutOfBounds)` when
//! its field is not all captured (the evaluator then calls the test unknown), and nothing
//! else is validated (no IP version, header length or checksum check).
//! That is why the network and transport fields are read here rather than through
//! etherparse's IPv4/IPv6 slices, which validate version and lengths and would change
//! answers on malformed packets. etherparse's Ethernet II and 802.1Q slices check only
//! their length, which is what BPF's type-field load needs, so the link layer uses them.
//!
//! Indexing guarantee: every read goes through `slice::get`.

use etherparse::{EtherType, Ethernet2HeaderSlice, SingleVlanHeaderSlice};

/// A field lay beyond the captured bytes (or an arithmetic comparison divided by zero):
/// BPF would stop here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfBounds;

pub(crate) type Load<T> = Result<T, OutOfBounds>;

fn bytes<const N: usize>(data: &[u8], at: usize) -> Load<[u8; N]> {
    let end = at.checked_add(N).ok_or(OutOfBounds)?;
    data.get(at..end)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(OutOfBounds)
}

pub(crate) fn be8(data: &[u8], at: usize) -> Load<u8> {
    data.get(at).copied().ok_or(OutOfBounds)
}

pub(crate) fn be16(data: &[u8], at: usize) -> Load<u16> {
    bytes::<2>(data, at).map(u16::from_be_bytes)
}

pub(crate) fn be32(data: &[u8], at: usize) -> Load<u32> {
    bytes::<4>(data, at).map(u32::from_be_bytes)
}

/// The Ethernet type field after `tags` 802.1Q tags (the type field of the last tag).
pub(crate) fn ether_type(frame: &[u8], tags: u8) -> Load<u16> {
    if tags == 0 {
        let eth = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| OutOfBounds)?;
        return Ok(eth.ether_type().0);
    }
    let tag = vlan_tag(frame, tags - 1)?;
    Ok(tag.ether_type().0)
}

/// The `n`th 802.1Q tag (0-based) after the Ethernet header.
fn vlan_tag(frame: &[u8], n: u8) -> Load<SingleVlanHeaderSlice<'_>> {
    let at = 14 + 4 * usize::from(n);
    SingleVlanHeaderSlice::from_slice(frame.get(at..).ok_or(OutOfBounds)?).map_err(|_| OutOfBounds)
}

/// The tag protocol identifiers libpcap's `vlan` accepts: 802.1Q, 802.1ad and the old QinQ.
pub(crate) const VLAN_TPIDS: [u16; 3] = [
    EtherType::VLAN_TAGGED_FRAME.0,
    EtherType::PROVIDER_BRIDGING.0,
    EtherType::VLAN_DOUBLE_TAGGED_FRAME.0,
];

/// Linux cooked capture v1: a 16-byte header whose protocol field is at 14.
pub(crate) struct Sll<'a>(pub &'a [u8]);

impl Sll<'_> {
    pub const LEN: usize = 16;
    pub fn protocol(&self) -> Load<u16> {
        be16(self.0, 14)
    }
}

/// Linux cooked capture v2: a 20-byte header that starts with the protocol field.
pub(crate) struct Sll2<'a>(pub &'a [u8]);

impl Sll2<'_> {
    pub const LEN: usize = 20;
    pub fn protocol(&self) -> Load<u16> {
        be16(self.0, 0)
    }
}

/// BSD null/loopback: a 4-byte address family.
pub(crate) struct Null<'a>(pub &'a [u8]);

impl Null<'_> {
    pub const LEN: usize = 4;

    /// The family word for LINKTYPE_NULL, whose byte order is the capturing host's: libpcap
    /// compares it in the file's byte order; this view accepts either order (the two only
    /// differ for a file whose family words disagree with its own header).
    pub fn family_is(&self, families: &[u32]) -> Load<bool> {
        let b = bytes::<4>(self.0, 0)?;
        let (le, be) = (u32::from_le_bytes(b), u32::from_be_bytes(b));
        Ok(families.iter().any(|f| *f == le || *f == be))
    }

    /// LINKTYPE_LOOP (OpenBSD) stores the family big-endian.
    pub fn family_be_is(&self, families: &[u32]) -> Load<bool> {
        let v = be32(self.0, 0)?;
        Ok(families.contains(&v))
    }
}

/// AF_INET, and AF_INET6 as the BSDs number it (24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin):
/// the values libpcap tests in a capture file.
pub(crate) const AF_INET: [u32; 1] = [2];
pub(crate) const AF_INET6: [u32; 3] = [24, 28, 30];

/// The IPv4 header fields BPF reads, from `at`.
pub(crate) struct Ipv4<'a> {
    pub data: &'a [u8],
    pub at: usize,
}

impl Ipv4<'_> {
    pub fn protocol(&self) -> Load<u8> {
        be8(self.data, self.at + 9)
    }
    /// True for a fragment other than the first (fragment offset not zero).
    pub fn is_later_fragment(&self) -> Load<bool> {
        Ok(be16(self.data, self.at + 6)? & 0x1fff != 0)
    }
    /// Where the transport header starts: after IHL words, however small IHL is.
    pub fn payload_at(&self) -> Load<usize> {
        Ok(self.at + 4 * usize::from(be8(self.data, self.at)? & 0x0f))
    }
    pub fn src(&self) -> Load<u32> {
        be32(self.data, self.at + 12)
    }
    pub fn dst(&self) -> Load<u32> {
        be32(self.data, self.at + 16)
    }
}

/// The IPv6 header fields BPF reads, from `at`.
pub(crate) struct Ipv6<'a> {
    pub data: &'a [u8],
    pub at: usize,
}

impl Ipv6<'_> {
    pub const LEN: usize = 40;
    pub fn next_header(&self) -> Load<u8> {
        be8(self.data, self.at + 6)
    }
    /// The next-header field of a fragment header directly after the fixed header.
    pub fn fragment_next_header(&self) -> Load<u8> {
        be8(self.data, self.at + Self::LEN)
    }
    /// 32-bit word `i` (0-3) of the source (`src`) or destination address.
    pub fn addr_word(&self, src: bool, i: usize) -> Load<u32> {
        let base = if src { 8 } else { 24 };
        be32(self.data, self.at + base + 4 * i)
    }
}

/// The sender and target protocol addresses of an ARP or RARP packet, where libpcap reads
/// them (IPv4 over Ethernet layout).
pub(crate) struct Arp<'a> {
    pub data: &'a [u8],
    pub at: usize,
}

impl Arp<'_> {
    pub fn sender(&self) -> Load<u32> {
        be32(self.data, self.at + 14)
    }
    pub fn target(&self) -> Load<u32> {
        be32(self.data, self.at + 24)
    }
}

/// The ports of a TCP, UDP or SCTP header at `at` (all three start with them).
pub(crate) struct Ports<'a> {
    pub data: &'a [u8],
    pub at: usize,
}

impl Ports<'_> {
    pub fn src(&self) -> Load<u16> {
        be16(self.data, self.at)
    }
    pub fn dst(&self) -> Load<u16> {
        be16(self.data, self.at + 2)
    }
}

/// An Ethernet address in the frame, compared as BPF compares it: the last four bytes
/// first, then the first two.
pub(crate) fn mac_is(frame: &[u8], at: usize, addr: &[u8; 6]) -> Load<bool> {
    let [a, b, c, d, e, f] = *addr;
    if be32(frame, at + 2)? != u32::from_be_bytes([c, d, e, f]) {
        return Ok(false);
    }
    Ok(be16(frame, at)? == u16::from_be_bytes([a, b]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_stop_at_the_captured_end() {
        let d = [0u8, 1, 2, 3, 4];
        assert_eq!(be16(&d, 3), Ok(0x0304));
        assert_eq!(be16(&d, 4), Err(OutOfBounds));
        assert_eq!(be32(&d, usize::MAX - 1), Err(OutOfBounds));
    }

    #[test]
    fn ether_type_through_tags() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x88, 0xa8, 0x00, 0x0a, 0x08, 0x00]);
        assert_eq!(ether_type(&f, 0), Ok(0x8100));
        assert_eq!(ether_type(&f, 1), Ok(0x88a8));
        assert_eq!(ether_type(&f, 2), Ok(0x0800));
        assert_eq!(ether_type(&f, 3), Err(OutOfBounds));
    }

    #[test]
    fn null_family_either_byte_order() {
        assert_eq!(Null(&[2, 0, 0, 0]).family_is(&AF_INET), Ok(true));
        assert_eq!(Null(&[0, 0, 0, 2]).family_is(&AF_INET), Ok(true));
        assert_eq!(Null(&[0, 0, 0, 2]).family_be_is(&AF_INET), Ok(true));
        assert_eq!(Null(&[2, 0, 0, 0]).family_be_is(&AF_INET), Ok(false));
        assert_eq!(Null(&[30, 0, 0]).family_is(&AF_INET6), Err(OutOfBounds));
    }
}
