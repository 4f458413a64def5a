//! FileSource and PcapWriter on the checked-in fixtures (fixtures/capture/, see its README):
//! timestamps and lengths equal tshark's, stdin-like reads in small pieces, truncation at every
//! byte, damaged files, and a write/read round trip.

use modsniff_capture::{CaptureError, FileSource, Format, PcapWriter, ReadLimits, WarningKind};
use modsniff_core::{LinkType, Packet, Timestamp};
use std::io::{self, Cursor, Read};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/capture")
        .join(name)
}

const ALL: [&str; 11] = [
    "pcapng-crafted-sections.pcapng",
    "pcap-usec-le.pcap",
    "pcap-usec-be.pcap",
    "pcap-nsec.pcap",
    "pcap-modified.pcap",
    "pcapng-be-spb.pcapng",
    "pcapng-multi-interface.pcapng",
    "pcapng-custom-blocks.pcapng",
    "pcapng-large-block.pcapng",
    "damaged-fuzz.pcap",
    "damaged-bogus-length.pcap",
];

/// One packet, owned, for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Owned {
    frame: u64,
    ts: u64,
    orig_len: u32,
    linktype: LinkType,
    data: Vec<u8>,
}

fn read_all(mut src: FileSource) -> (Vec<Owned>, FileSource) {
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().expect("read") {
        out.push(Owned {
            frame: p.frame,
            ts: p.ts.as_nanos(),
            orig_len: p.orig_len,
            linktype: p.linktype,
            data: p.data.to_vec(),
        });
    }
    // Ok(None) is sticky.
    assert!(src.next_packet().expect("after end").is_none());
    (out, src)
}

/// These tests follow the file's own order (as tshark shows it), record by record: the
/// reorder window is off.
const FILE_ORDER: ReadLimits = ReadLimits {
    reorder_window: 0,
    buffer_size: modsniff_capture::DEFAULT_BUFFER_SIZE,
    max_buffer_size: modsniff_capture::DEFAULT_MAX_BUFFER_SIZE,
    max_caplen: modsniff_capture::DEFAULT_MAX_CAPLEN,
};

fn read_file(name: &str) -> (Vec<Owned>, FileSource) {
    read_all(FileSource::open_with(&fixture(name), FILE_ORDER).expect("open"))
}

/// tshark's "secs.fraction" as nanoseconds, exactly (no floating point).
fn parse_epoch(s: &str) -> u64 {
    let (secs, frac) = s.split_once('.').expect("epoch has a dot");
    let mut frac = frac.to_string();
    while frac.len() < 9 {
        frac.push('0');
    }
    secs.parse::<u64>().unwrap() * 1_000_000_000 + frac[..9].parse::<u64>().unwrap()
}

#[test]
fn timestamps_and_lengths_equal_tshark() {
    for name in ALL {
        let (packets, src) = read_file(name);
        let expected = std::fs::read_to_string(fixture(&format!("{name}.tshark"))).unwrap();
        let lines: Vec<&str> = expected.lines().collect();
        assert_eq!(src.frames(), lines.len() as u64, "{name}: frame count");
        let with_packet = lines
            .iter()
            .filter(|l| !l.split('\t').nth(3).unwrap_or("").is_empty());
        assert_eq!(packets.len(), with_packet.count(), "{name}: packet count");
        for p in &packets {
            let fields: Vec<&str> = lines[(p.frame - 1) as usize].split('\t').collect();
            let (time, caplen, len) = (fields[0], fields[1], fields[2]);
            if time.starts_with('-') {
                // damaged-fuzz.pcap frame 2 has a microsecond field of 4211277; tshark's
                // nanosecond arithmetic overflows and prints a negative time. We carry the
                // excess into the seconds instead (checked in damaged_files_stop_cleanly...).
                assert_eq!(name, "damaged-fuzz.pcap");
            } else if !time.is_empty() {
                assert_eq!(
                    p.ts,
                    parse_epoch(time),
                    "{name} frame {}: timestamp",
                    p.frame
                );
            }
            assert_eq!(
                p.data.len().to_string(),
                caplen,
                "{name} frame {}: caplen",
                p.frame
            );
            assert_eq!(p.orig_len.to_string(), len, "{name} frame {}: len", p.frame);
        }
    }
}

#[test]
fn formats_are_detected_by_magic() {
    let cases = [
        (
            "pcap-usec-le.pcap",
            Format::Pcap {
                nanos: false,
                big_endian: false,
                modified: false,
            },
        ),
        (
            "pcap-usec-be.pcap",
            Format::Pcap {
                nanos: false,
                big_endian: true,
                modified: false,
            },
        ),
        (
            "pcap-nsec.pcap",
            Format::Pcap {
                nanos: true,
                big_endian: false,
                modified: false,
            },
        ),
        (
            "pcap-modified.pcap",
            Format::Pcap {
                nanos: false,
                big_endian: false,
                modified: true,
            },
        ),
        ("pcapng-be-spb.pcapng", Format::PcapNg),
    ];
    for (name, format) in cases {
        let src = FileSource::open(&fixture(name)).unwrap();
        assert_eq!(src.format(), format, "{name}");
        assert_eq!(
            src.total_bytes(),
            Some(std::fs::metadata(fixture(name)).unwrap().len())
        );
    }
}

#[test]
fn sections_reset_interfaces_and_switch_byte_order() {
    let (packets, src) = read_file("pcapng-crafted-sections.pcapng");
    let linktypes: Vec<u32> = packets.iter().map(|p| p.linktype.0).collect();
    assert_eq!(linktypes, [1, 1, 101, 101]);
    // if_tsoffset of 10^9 s on a 2^-10 s clock.
    assert_eq!(packets[0].ts, 2_700_000_000_500_000_000);
    assert_eq!(packets[2].orig_len, 1500);
    assert_eq!(
        packets[3].ts, packets[2].ts,
        "SPB takes the previous timestamp"
    );
    assert_eq!(src.skipped_blocks(), 2, "ISB and the unknown block");
    assert!(src.warnings().is_empty());
}

#[test]
fn multi_interface_keeps_each_interfaces_resolution() {
    let (packets, _) = read_file("pcapng-multi-interface.pcapng");
    // Interface 0 stamps in nanoseconds, interface 1 in microseconds (if_tsresol).
    assert_eq!(packets[0].ts, 1_767_663_089_500_330_493);
    assert_eq!(packets[2].ts % 1000, 0);
    assert!(packets.iter().all(|p| p.linktype == LinkType::ETHERNET));
}

#[test]
fn simple_packet_blocks_take_the_previous_timestamp() {
    let (packets, src) = read_file("pcapng-be-spb.pcapng");
    assert_eq!(packets.len(), 4);
    // SPB, EPB, SPB, EPB: the first SPB has nothing before it.
    assert_eq!(packets[0].ts, 0);
    assert_eq!(packets[2].ts, packets[1].ts);
    assert!(
        src.skipped_blocks() >= 1,
        "the name resolution block is skipped"
    );
}

#[test]
fn custom_blocks_are_numbered_but_not_delivered() {
    let (packets, src) = read_file("pcapng-custom-blocks.pcapng");
    assert!(packets.is_empty());
    assert_eq!(src.frames(), 4);
    assert!(src.warnings().is_empty());
}

#[test]
fn a_block_bigger_than_the_buffer_grows_it() {
    let limits = ReadLimits {
        buffer_size: 4096,
        ..ReadLimits::default()
    };
    let src = FileSource::open_with(&fixture("pcapng-large-block.pcapng"), limits).unwrap();
    let (small, src) = read_all(src);
    assert!(src.warnings().is_empty(), "{:?}", src.warnings());
    let (normal, _) = read_file("pcapng-large-block.pcapng");
    assert_eq!(small.len(), 27);
    assert_eq!(small, normal);
}

#[test]
fn damaged_files_stop_cleanly_where_tshark_does() {
    let (packets, src) = read_file("damaged-bogus-length.pcap");
    assert_eq!(packets.len(), 6);
    let w = &src.warnings()[0];
    assert_eq!(
        w.kind,
        WarningKind::BogusLength {
            caplen: 4_325_376,
            max: 262_144
        }
    );
    assert_eq!(w.packets, 6);
    assert_eq!(w.offset, 5035);
    let text = w.to_string();
    assert!(
        text.contains("damaged-bogus-length.pcap: bogus record length at byte 5035"),
        "{text}"
    );
    assert!(text.ends_with("stopped after 6 packets"), "{text}");

    // tshark reads this one with 24-byte record headers (the ss990417 variant).
    let (packets, src) = read_file("damaged-fuzz.pcap");
    assert_eq!(packets.len(), 2);
    assert_eq!(packets[1].data.len(), 1);
    // Seconds 1409179648 and 4211277 "microseconds": the excess is carried into the seconds.
    assert_eq!(packets[1].ts, 1_409_179_648_000_000_000 + 4_211_277_000);
    assert_eq!(
        src.warnings()[0].kind,
        WarningKind::BogusLength {
            caplen: 16_711_424,
            max: 262_144
        }
    );
}

/// Hands out at most `chunk` bytes per read, as a pipe may.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
}

impl Read for Trickle {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let rest = &self.data[self.pos..];
        let k = rest.len().min(out.len()).min(self.chunk);
        out[..k].copy_from_slice(&rest[..k]);
        self.pos += k;
        Ok(k)
    }
}

#[test]
fn reading_in_small_pieces_gives_the_same_packets() {
    for name in ALL {
        // Through the default reorder window: it must not depend on how the bytes come.
        let (whole, whole_src) = read_all(FileSource::open(&fixture(name)).unwrap());
        let data = std::fs::read(fixture(name)).unwrap();
        for chunk in [1, 3, 7, 64, 1500] {
            let r = Trickle {
                data: data.clone(),
                pos: 0,
                chunk,
            };
            let src = FileSource::from_reader(Box::new(r), "-".into()).unwrap();
            let (pieces, src) = read_all(src);
            assert_eq!(pieces, whole, "{name} in {chunk}-byte reads");
            assert_eq!(src.warnings().len(), whole_src.warnings().len());
            assert_eq!(src.total_bytes(), None);
        }
    }
}

#[test]
fn truncation_at_every_byte_keeps_what_came_before() {
    for name in [
        "pcap-usec-le.pcap",
        "pcap-nsec.pcap",
        "pcapng-multi-interface.pcapng",
    ] {
        let data = std::fs::read(fixture(name)).unwrap();
        // Where each packet's record ends.
        let mut src = FileSource::open_with(&fixture(name), FILE_ORDER).unwrap();
        let mut ends = Vec::new();
        while src.next_packet().unwrap().is_some() {
            ends.push(src.bytes_read() as usize);
        }
        let is_pcap = name.ends_with(".pcap");
        for cut in 0..data.len() {
            let r = Cursor::new(data[..cut].to_vec());
            let src = match FileSource::from_reader(Box::new(r), name.into()) {
                Ok(s) => s,
                Err(CaptureError::HeaderTruncated {
                    needed, available, ..
                }) => {
                    assert!(
                        cut > 0 && available == cut && needed > cut,
                        "{name} cut at {cut}"
                    );
                    continue;
                }
                Err(e) => panic!("{name} cut at {cut}: {e}"),
            };
            if cut == 0 {
                assert_eq!(src.format(), Format::Empty);
            }
            let (packets, src) = read_all(src);
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(packets.len(), complete, "{name} cut at {cut}");
            if is_pcap && cut >= 24 {
                let at_boundary = cut == 24 || ends.contains(&cut);
                assert_eq!(
                    src.warnings().is_empty(),
                    at_boundary,
                    "{name} cut at {cut}"
                );
            }
            if let Some(w) = src.warnings().first() {
                assert!(matches!(
                    w.kind,
                    WarningKind::TruncatedHeader { .. } | WarningKind::TruncatedRecord { .. }
                ));
                assert_eq!(w.packets, complete as u64);
            }
        }
    }
}

#[test]
fn header_only_and_empty_inputs_have_no_packets_and_no_error() {
    let data = std::fs::read(fixture("pcap-usec-le.pcap")).unwrap();
    let src =
        FileSource::from_reader(Box::new(Cursor::new(data[..24].to_vec())), "h".into()).unwrap();
    let (packets, src) = read_all(src);
    assert!(packets.is_empty() && src.warnings().is_empty());
    let src = FileSource::from_reader(Box::new(io::empty()), "e".into()).unwrap();
    assert_eq!(src.format(), Format::Empty);
    assert!(read_all(src).0.is_empty());
}

#[test]
fn unknown_magic_names_the_file_and_its_first_bytes() {
    let r = Cursor::new(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec());
    let err = FileSource::from_reader(Box::new(r), "notes.txt".into()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("notes.txt: not a pcap or pcapng file"),
        "{text}"
    );
    assert!(text.contains("47 45 54 20"), "{text}");
    let missing = FileSource::open(&fixture("no-such-file.pcap")).unwrap_err();
    assert!(matches!(missing, CaptureError::Open { .. }));
}

#[test]
fn an_oversized_pcapng_block_stops_reading() {
    let mut data = std::fs::read(fixture("pcapng-multi-interface.pcapng")).unwrap();
    let good = read_file("pcapng-multi-interface.pcapng").0.len();
    // An unknown block claiming 32 MiB, more than the 16 MiB cap.
    data.extend_from_slice(&0x0000_dead_u32.to_le_bytes());
    data.extend_from_slice(&(32u32 << 20).to_le_bytes());
    data.extend_from_slice(&[0; 64]);
    let src = FileSource::from_reader(Box::new(Cursor::new(data)), "big".into()).unwrap();
    let (packets, src) = read_all(src);
    assert_eq!(packets.len(), good);
    assert!(
        matches!(src.warnings()[0].kind, WarningKind::BogusLength { caplen, .. } if caplen == 32 << 20)
    );
}

#[test]
fn written_pcap_reads_back_equal() {
    let name = "pcap-usec-le.pcap";
    let original = std::fs::read(fixture(name)).unwrap();
    let mut src = FileSource::open(&fixture(name)).unwrap();
    let linktype = src.linktype().unwrap();
    let mut w = PcapWriter::new(Vec::new(), linktype, 262_144).unwrap();
    while let Some(p) = src.next_packet().unwrap() {
        w.write_packet(&p).unwrap();
    }
    assert_eq!(w.packets_written(), 3);
    let out = w.into_inner().unwrap();
    // A microsecond little-endian file: the records come out byte for byte.
    assert_eq!(out[24..], original[24..]);
    let back = FileSource::from_reader(Box::new(Cursor::new(out)), "w".into()).unwrap();
    assert_eq!(
        back.format(),
        Format::Pcap {
            nanos: false,
            big_endian: false,
            modified: false
        }
    );
    assert_eq!(read_all(back).0, read_file(name).0);

    // Nanosecond pcapng in, microsecond pcap out: timestamps lose their nanoseconds only.
    let (packets, _) = read_file("pcapng-multi-interface.pcapng");
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 65_535).unwrap();
    let mut src = FileSource::open(&fixture("pcapng-multi-interface.pcapng")).unwrap();
    while let Some(p) = src.next_packet().unwrap() {
        w.write_packet(&p).unwrap();
    }
    let back = FileSource::from_reader(Box::new(Cursor::new(w.into_inner().unwrap())), "w".into())
        .unwrap();
    let (again, _) = read_all(back);
    assert_eq!(again.len(), packets.len());
    for (a, b) in again.iter().zip(&packets) {
        assert_eq!(a.ts, b.ts / 1000 * 1000);
        assert_eq!(
            (a.frame, a.orig_len, &a.data),
            (b.frame, b.orig_len, &b.data)
        );
    }
}

/// A legacy pcap file built in memory: header fields, then (secs, frac, len1, len2, data).
fn pcap_bytes(
    magic: u32,
    minor: u16,
    snaplen: u32,
    records: &[(u32, u32, u32, u32, &[u8])],
) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&magic.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&minor.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&snaplen.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (s, f, a, b, data) in records {
        for x in [s, f, a, b] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(data);
    }
    v
}

#[test]
fn old_pcap_versions_have_the_lengths_the_other_way_round() {
    // Version 2.2: orig_len comes first, caplen second.
    let data = pcap_bytes(
        0xa1b2_c3d4,
        2,
        65535,
        &[(1, 2, 100, 10, &[7; 10]), (3, 4, 60, 5, &[8; 5])],
    );
    let src = FileSource::from_reader(Box::new(Cursor::new(data)), "v22".into()).unwrap();
    let (packets, src) = read_all(src);
    assert!(src.warnings().is_empty());
    assert_eq!(packets.len(), 2);
    assert_eq!((packets[0].orig_len, packets[0].data.len()), (100, 10));
    assert_eq!(
        (packets[1].orig_len, packets[1].data.as_slice()),
        (60, &[8u8; 5][..])
    );
    // Version 2.4 with the same bytes reads them as written: caplen 100 runs past the data.
    let data = pcap_bytes(0xa1b2_c3d4, 4, 65535, &[(1, 2, 10, 100, &[7; 10])]);
    let src = FileSource::from_reader(Box::new(Cursor::new(data)), "v24".into()).unwrap();
    let (packets, _) = read_all(src);
    assert_eq!((packets[0].orig_len, packets[0].data.len()), (100, 10));
}

#[test]
fn sources_can_move_to_another_thread() {
    fn is_send<T: Send>() {}
    is_send::<FileSource>();
}

/// A pcap of packets stamped at `stamps` (ms), in that file order, each carrying its index.
fn stamped(stamps: &[u64]) -> Vec<u8> {
    stamped_sized(stamps, 60)
}

/// `stamped` with packets of `size` bytes, each byte its index (mod 256).
fn stamped_sized(stamps: &[u64], size: usize) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 65_535).unwrap();
    for (i, ms) in stamps.iter().enumerate() {
        let data = vec![i as u8; size];
        w.write_packet(&Packet {
            ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + ms * 1_000_000),
            frame: 0,
            orig_len: size as u32,
            linktype: LinkType::ETHERNET,
            data: &data,
        })
        .unwrap();
    }
    w.into_inner().unwrap()
}

fn read_with(bytes: &[u8], window: usize) -> (Vec<Owned>, FileSource) {
    let limits = ReadLimits {
        reorder_window: window,
        ..ReadLimits::default()
    };
    let src =
        FileSource::from_reader_with(Box::new(Cursor::new(bytes.to_vec())), "t".into(), limits)
            .unwrap();
    read_all(src)
}

#[test]
fn the_reorder_window_hands_packets_out_in_time_order_with_their_file_frames() {
    // Two adjacent packets swapped (frames 3 and 4), one packet filed three places late
    // (frame 8, stamped before frames 5-7), and equal times (frames 9, 10).
    let bytes = stamped(&[0, 1, 3, 2, 5, 6, 7, 4, 8, 8, 9]);
    let (packets, src) = read_with(&bytes, 4);
    let frames: Vec<u64> = packets.iter().map(|p| p.frame).collect();
    assert_eq!(frames, [1, 2, 4, 3, 8, 5, 6, 7, 9, 10, 11]);
    // Each packet is its own frame's bytes.
    assert!(packets.iter().all(|p| p.data[0] as u64 == p.frame - 1));
    assert!(packets.windows(2).all(|w| w[0].ts <= w[1].ts));
    assert_eq!(src.reordered_packets(), 2);
    assert_eq!(src.frames(), 11);

    // Off: the file's order, nothing counted.
    let (packets, src) = read_with(&bytes, 0);
    let frames: Vec<u64> = packets.iter().map(|p| p.frame).collect();
    assert_eq!(frames, (1..=11).collect::<Vec<_>>());
    assert_eq!(src.reordered_packets(), 0);

    // A packet filed further back than the window is deep goes out where the window lets it.
    let (packets, src) = read_with(&bytes, 1);
    let frames: Vec<u64> = packets.iter().map(|p| p.frame).collect();
    assert_eq!(frames, [1, 2, 4, 3, 5, 6, 8, 7, 9, 10, 11]);
    assert_eq!(src.reordered_packets(), 2);
}

#[test]
fn the_reorder_window_gives_back_what_it_holds_before_damage_stops_reading() {
    let mut bytes = stamped(&[0, 2, 1, 3]);
    // A fifth record header cut short: reading stops with a warning after the four packets.
    bytes.extend_from_slice(&[0u8; 7]);
    let (packets, src) = read_with(&bytes, 64);
    let frames: Vec<u64> = packets.iter().map(|p| p.frame).collect();
    assert_eq!(frames, [1, 3, 2, 4]);
    assert_eq!(src.warnings().len(), 1);
    assert_eq!(src.reordered_packets(), 1);
}

#[test]
fn packets_the_window_holds_keep_their_bytes_when_the_read_buffer_moves() {
    // Held packets point into the read buffer until a refill would move its bytes: a
    // capture several times the buffer's size moves them again and again, and each packet
    // must still be its own. Every seventh packet is filed after two packets stamped later.
    let stamps: Vec<u64> = (0..2_000u64)
        .map(|i| if i % 7 == 3 { 10 * i - 25 } else { 10 * i })
        .collect();
    let bytes = stamped_sized(&stamps, 1_000);
    let (roomy, _) = read_with(&bytes, 16);
    for buffer_size in [64, 1_500, 100_000, 1 << 18] {
        let limits = ReadLimits {
            reorder_window: 16,
            buffer_size,
            ..ReadLimits::default()
        };
        let src =
            FileSource::from_reader_with(Box::new(Cursor::new(bytes.clone())), "t".into(), limits)
                .unwrap();
        let (packets, src) = read_all(src);
        assert_eq!(packets.len(), 2_000);
        for p in &packets {
            assert!(
                p.data.len() == 1_000 && p.data.iter().all(|&b| b as u64 == (p.frame - 1) % 256),
                "frame {} read with a {buffer_size}-byte buffer carries another packet's bytes",
                p.frame
            );
        }
        let frames = |v: &[Owned]| v.iter().map(|p| p.frame).collect::<Vec<_>>();
        assert_eq!(frames(&packets), frames(&roomy));
        assert!(src.reordered_packets() > 0);
    }
}

/// The window's rule, written the plain way: hold `window + 1` packets, hand out the earliest
/// (equal times in file order). Gives the file frames in the order they come out.
fn window_rule(stamps: &[u64], window: usize) -> Vec<u64> {
    let mut held: Vec<(u64, u64)> = Vec::new();
    let mut out = Vec::new();
    for (i, &ts) in stamps.iter().enumerate() {
        let at = held.iter().rposition(|h| h.0 <= ts).map_or(0, |k| k + 1);
        held.insert(at, (ts, i as u64 + 1));
        if held.len() > window {
            out.push(held.remove(0).1);
        }
    }
    out.extend(held.iter().map(|h| h.1));
    out
}

#[test]
fn the_reorder_window_follows_its_rule_whatever_the_disorder_and_the_buffer() {
    // Long stretches in order (read ahead and handed out as they are) broken by packets
    // filed a few or many places late, early, or with equal times: what comes out must be
    // what the plain rule gives, through every way in and out of the stretches.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..24 {
        let len = 300 + (next() % 3_000) as usize;
        let mut stamps: Vec<u64> = (0..len as u64).map(|i| 10 * i).collect();
        for _ in 0..(round % 6) * 3 {
            let i = (next() % len as u64) as usize;
            let shift = next() % 2_000;
            stamps[i] = match next() % 3 {
                0 => stamps[i].saturating_sub(shift),
                1 => stamps[i] + shift,
                _ => stamps[i.saturating_sub(1)],
            };
        }
        let size = [40, 700, 1_400][round % 3];
        let bytes = stamped_sized(&stamps, size);
        for window in [1, 8, 64] {
            for buffer_size in [64, 4_096, 1 << 18] {
                let limits = ReadLimits {
                    reorder_window: window,
                    buffer_size,
                    ..ReadLimits::default()
                };
                let src = FileSource::from_reader_with(
                    Box::new(Cursor::new(bytes.clone())),
                    "t".into(),
                    limits,
                )
                .unwrap();
                let (packets, _) = read_all(src);
                let frames: Vec<u64> = packets.iter().map(|p| p.frame).collect();
                assert_eq!(
                    frames,
                    window_rule(&stamps, window),
                    "round {round}, window {window}, buffer {buffer_size}"
                );
                assert!(
                    packets
                        .iter()
                        .all(|p| p.data.len() == size && p.data[0] as u64 == (p.frame - 1) % 256)
                );
            }
        }
    }
}
