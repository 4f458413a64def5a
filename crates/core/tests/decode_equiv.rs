//! The fast decoding path (`wire::decode_fast`) must give exactly what etherparse's lax path
//! (`wire::decode_lax`) gives, on every frame it accepts: checked on every frame of every
//! capture in fixtures/, ../shared/pcaps/public and ../shared/scenarios, and on random and
//! mutated frames.

mod common;

use modsniff_core::LinkType;
use modsniff_core::hooks::wire::{DecodedPacket, L4, decode, decode_fast, decode_lax, flow_ends};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{PcapBlockOwned, PcapNGSlice};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// Calls `each` with every frame of a legacy pcap (either byte order, µs or ns, or the
/// modified format) or a pcapng file, and its link type. Unreadable files yield what could be
/// read.
fn for_each_frame(path: &Path, each: &mut dyn FnMut(LinkType, &[u8])) {
    let data = std::fs::read(path).unwrap();
    let Some(magic) = data
        .get(0..4)
        .map(|m| u32::from_le_bytes(m.try_into().unwrap()))
    else {
        return;
    };
    // (little-endian, record header length): the modified format (Kuznetsov's patches) adds
    // ifindex, protocol, packet type and padding to each record header.
    let legacy = match magic {
        0xa1b2c3d4 | 0xa1b23c4d => Some((true, 16)),
        0xd4c3b2a1 | 0x4d3cb2a1 => Some((false, 16)),
        0xa1b2cd34 => Some((true, 24)),
        0x34cdb2a1 => Some((false, 24)),
        _ => None,
    };
    if let Some((le, rec_len)) = legacy {
        let rd = |b: &[u8]| {
            let a: [u8; 4] = b.try_into().unwrap();
            if le {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }
        };
        let linktype = LinkType(rd(&data[20..24]) & 0x0fff_ffff);
        let mut off = 24;
        while off + rec_len <= data.len() {
            let incl = rd(&data[off + 8..off + 12]) as usize;
            off += rec_len;
            let Some(f) = data.get(off..off + incl) else {
                break;
            };
            each(linktype, f);
            off += incl;
        }
        return;
    }
    let Ok(ng) = PcapNGSlice::from_slice(&data) else {
        eprintln!("SKIP {}: neither pcap nor pcapng", path.display());
        return;
    };
    let mut linktypes: Vec<LinkType> = Vec::new();
    for block in ng {
        let Ok(PcapBlockOwned::NG(b)) = block else {
            break;
        };
        match b {
            Block::SectionHeader(_) => linktypes.clear(),
            Block::InterfaceDescription(idb) => linktypes.push(LinkType(idb.linktype.0 as u32)),
            Block::EnhancedPacket(epb) => {
                if let Some(&lt) = linktypes.get(epb.if_id as usize) {
                    each(lt, epb.packet_data());
                }
            }
            Block::SimplePacket(spb) => {
                if let Some(&lt) = linktypes.first() {
                    each(lt, spb.packet_data());
                }
            }
            _ => {}
        }
    }
}

/// ../shared beside the repository (main checkout), one level further up (worktrees), or
/// $MODSNIFF_SHARED.
fn shared() -> Option<PathBuf> {
    if let Some(s) = std::env::var_os("MODSNIFF_SHARED") {
        return Some(PathBuf::from(s));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    common::shared().or_else(|| {
        let p = root.join("../../shared");
        p.is_dir().then_some(p)
    })
}

fn captures_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
}

/// Both paths on one frame; true when the fast path took it.
fn check(lt: LinkType, f: &[u8], what: &dyn Fn() -> String) -> bool {
    let lax = decode_lax(lt, f);
    let fast = decode_fast(lt, f);
    if let Some(fast) = &fast {
        assert_eq!(*fast, lax, "fast path differs: {}", what());
    }
    // The sharded engine's router: the fast path's frames, with their ends.
    let ends = fast.as_ref().and_then(|d| {
        let ip = d.ip?;
        match &d.l4 {
            L4::Tcp(t) => Some((true, ip, t.src_port, t.dst_port)),
            L4::Udp(u) => Some((false, ip, u.src_port, u.dst_port)),
            _ => None,
        }
    });
    assert_eq!(flow_ends(lt, f), ends, "flow ends differ: {}", what());
    assert_eq!(decode(lt, f), lax, "decode differs: {}", what());
    fast.is_some()
}

#[test]
fn fast_path_equals_lax_path_on_every_captured_frame() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    captures_under(&root.join("fixtures"), &mut files);
    let fixture_files = files.len();
    assert!(fixture_files > 0, "no captures under fixtures/");
    match shared() {
        Some(shared) => {
            captures_under(&shared.join("pcaps/public"), &mut files);
            captures_under(&shared.join("scenarios"), &mut files);
        }
        None => eprintln!("SKIP ../shared captures: ../shared is absent (fixtures/ only)"),
    }
    let mut n = Counts::default();
    for path in &files {
        n.check_file(path);
    }
    eprintln!(
        "{} files ({fixture_files} in fixtures/): {n:?}",
        files.len()
    );
    n.assert_fast_path_carries_the_common_case();
}

/// The same on one big capture named by $MODSNIFF_EQUIV_PCAP (the 1 GB bench corpus, say):
/// `MODSNIFF_EQUIV_PCAP=/tmp/bench-corpus/corpus.pcap cargo test --release -p modsniff-core
/// --test decode_equiv -- --ignored`.
#[test]
#[ignore = "needs $MODSNIFF_EQUIV_PCAP"]
fn fast_path_equals_lax_path_on_a_named_capture() {
    let Some(path) = std::env::var_os("MODSNIFF_EQUIV_PCAP") else {
        eprintln!("SKIP: set MODSNIFF_EQUIV_PCAP to a capture");
        return;
    };
    let mut n = Counts::default();
    n.check_file(Path::new(&path));
    eprintln!("{}: {n:?}", Path::new(&path).display());
    n.assert_fast_path_carries_the_common_case();
}

#[derive(Debug, Default)]
struct Counts {
    frames: usize,
    fast: usize,
    tcp_udp: usize,
    link_types: std::collections::BTreeSet<u32>,
}

impl Counts {
    fn check_file(&mut self, path: &Path) {
        let mut i = 0;
        for_each_frame(path, &mut |lt, f| {
            i += 1;
            self.link_types.insert(lt.0);
            let what = || format!("{} frame {i} (link type {})", path.display(), lt.0);
            self.frames += 1;
            self.fast += usize::from(check(lt, f, &what));
            if matches!(decode_lax(lt, f).l4, L4::Tcp(_) | L4::Udp(_)) {
                self.tcp_udp += 1;
            }
        });
    }

    /// The fast path must carry the common case, or the equality proves nothing about it.
    fn assert_fast_path_carries_the_common_case(&self) {
        assert!(self.frames > 0);
        assert!(
            self.fast * 100 >= self.tcp_udp * 90,
            "fast path took only {} of {} TCP/UDP frames",
            self.fast,
            self.tcp_udp
        );
    }
}

/// Frames the mutations start from: one of each shape the fast path handles, taken from the
/// captures (SLL, SLL2, VLAN, IPv6, TCP options, UDP, padded frames, ...), bounded in number.
fn seed_frames() -> Vec<(LinkType, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    captures_under(&root.join("fixtures"), &mut files);
    if let Some(shared) = shared() {
        captures_under(&shared.join("pcaps/public"), &mut files);
    }
    files.sort();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for path in &files {
        for_each_frame(path, &mut |lt, f| {
            let d = decode_lax(lt, f);
            // A shape: link type, first bytes that tell the encapsulation, the L4 kind,
            // whether it stopped or was cut.
            let kind = match d.l4 {
                L4::Tcp(t) => 1 + u8::from(t.window_scale.is_some()) + 2 * u8::from(t.sack),
                L4::Udp(_) => 10,
                L4::IcmpError(_) => 11,
                L4::Fragment(_) => 12,
                L4::Other => 13,
            };
            let v6 = matches!(d.ip, Some(ip) if ip.src.is_ipv6());
            let shape = (
                lt.0,
                kind,
                v6,
                d.truncated,
                d.stop.is_some(),
                d.tunnel_depth,
            );
            if seen.insert(shape) && out.len() < 200 {
                out.push((lt, f.to_vec()));
            }
        });
    }
    out
}

fn link_type() -> impl Strategy<Value = LinkType> {
    prop_oneof![
        Just(LinkType::ETHERNET),
        Just(LinkType::RAW),
        Just(LinkType::LINUX_SLL),
        Just(LinkType::LINUX_SLL2),
        Just(LinkType::NULL),
        Just(LinkType::IPV4),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_bytes_decode_the_same(lt in link_type(), data in prop::collection::vec(any::<u8>(), 0..200)) {
        let what = || format!("{data:02x?}");
        check(lt, &data, &what);
    }

    /// Random bytes behind a valid-looking Ethernet + IP header start, so the fast path gets
    /// past the first checks.
    #[test]
    fn random_ip_behind_ethernet(
        v6 in any::<bool>(),
        vlans in 0usize..4,
        proto in prop_oneof![Just(6u8), Just(17u8), any::<u8>()],
        body in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut f = vec![0u8; 12];
        for _ in 0..vlans {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
        let start = f.len();
        f.extend_from_slice(&body);
        if let Some(b) = f.get_mut(start) {
            *b = if v6 { 0x60 | (*b & 0x0f) } else { 0x40 | (*b & 0x0f) };
        }
        if let Some(b) = f.get_mut(start + if v6 { 6 } else { 9 }) {
            *b = proto;
        }
        let what = || format!("{f:02x?}");
        check(LinkType::ETHERNET, &f, &what);
    }
}

#[test]
fn mutated_real_frames_decode_the_same() {
    let seeds = seed_frames();
    assert!(!seeds.is_empty(), "no seed frames");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(20_000));
    let strategy = (
        0..seeds.len(),
        any::<prop::sample::Index>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<bool>(),
    );
    runner
        .run(&strategy, |(which, cut, flips, do_cut)| {
            let (lt, orig) = &seeds[which];
            let mut f = orig.clone();
            if do_cut && !f.is_empty() {
                f.truncate(cut.index(f.len() + 1));
            }
            for (at, val) in &flips {
                if !f.is_empty() {
                    let i = at.index(f.len());
                    f[i] = *val;
                }
            }
            let what = || format!("link type {} {f:02x?}", lt.0);
            check(*lt, &f, &what);
            Ok(())
        })
        .unwrap();
    // Every seed, cut at every length: the boundary cases of each header.
    for (lt, f) in &seeds {
        for n in 0..=f.len().min(160) {
            let what = || format!("link type {} cut to {n}: {f:02x?}", lt.0);
            check(*lt, &f[..n], &what);
        }
    }
}

/// Frames padded to Ethernet's 60-byte minimum must lose the padding at the IP total length.
#[test]
fn ethernet_padding_is_cut_at_the_ip_length() {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend_from_slice(&[
        0, 80, 0xc0, 0, 0, 0, 0, 9, 0, 0, 0, 7, 0x50, 0x10, 0x10, 0, 0, 0, 0, 0,
    ]);
    f.resize(60, 0xee);
    let d: DecodedPacket<'_> = decode_fast(LinkType::ETHERNET, &f).expect("plain TCP");
    let L4::Tcp(t) = d.l4 else { panic!("{d:?}") };
    assert_eq!((t.payload.len(), t.wire_len, d.truncated), (0, 0, false));
    assert_eq!(d, decode_lax(LinkType::ETHERNET, &f));
}
