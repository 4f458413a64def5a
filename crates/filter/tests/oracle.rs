//! tcpdump is the reference: for every capture under fixtures/ (and ../shared/pcaps/public
//! when it is beside the repository) and every expression below, the packets this filter
//! selects must be exactly the packets `tcpdump -r FILE -w - EXPR` writes, and an expression
//! libpcap refuses for a file's link type must be refused here too.
//!
//! Packets are compared as libpcap reads them: `tcpdump -r FILE -w -` without a filter gives
//! every packet (frame N is the Nth); the filtered output must be the subsequence our filter
//! picks from it, compared on timestamp, lengths and bytes. Skipped, with a message, when
//! tcpdump is not installed.

use modsniff_filter::{Filter, FilterError};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every keyword, IPv4 and IPv6, every link type in the corpus, negation, precedence,
/// qualifier inheritance, `vlan` (tags, QinQ, and its effect on what follows).
const EXPRESSIONS: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "sctp",
    "tcp port 443",
    "port 53",
    "udp port domain",
    "port https",
    "port http",
    "tcp dst port 443",
    "src port 53 or dst port 53",
    "tcp src or dst port 80",
    "src and dst port 8080",
    "portrange 1-1023",
    "tcp portrange 40000-65535",
    "udp portrange domain-https",
    "host 10.77.1.2",
    "src host 10.77.1.2",
    "dst host 10.77.2.53",
    "host 10.77.1.1",
    "arp host 10.77.1.1",
    "ip host 10.77.1.1",
    "net 10.77.0.0/16",
    "net 10.77.2.0 mask 255.255.255.0",
    "net 10.77",
    "dst net 192.168",
    "src or dst net 192.168.0.0/16",
    "src and dst net 10.0.0.0/8",
    "host 10.77.1.2 and not port 53",
    "host 10.77.1.2 and (10.77.2.53 or 10.77.2.2)",
    "ip6 host fd77:1::2",
    "host ::1",
    "net fd77::/16",
    "ip6 src net fe80::/10",
    "ip6 and tcp",
    "ip6 multicast or ip multicast",
    "ether host ff:ff:ff:ff:ff:ff",
    "ether src 02:68:54:ad:d5:3e or ether dst ee:ec:d3:a1:50:dd",
    "ether broadcast",
    "ether multicast",
    "ip broadcast",
    "vlan",
    "vlan and ip",
    "vlan 4093 and tcp port 80",
    "vlan and vlan and arp",
    "vlan 200 and vlan 2001",
    "vlan 30 and vlan 20 and vlan 10 and ip",
    "vlan 0 or vlan 6",
    "vlan and ip6 and tcp",
    "not vlan and tcp",
    "tcp or udp and not icmp",
    "tcp and (port 443 or port 80)",
    "! tcp && ! udp",
    "not (tcp or udp) || arp",
    "tcp port 80 or 443",
    "not port 53 and not arp",
    "ip proto \\udp",
    "proto 17",
    "ip6 proto 58",
    "ether proto \\arp",
    "ether proto 0x86dd",
    "less 60",
    "greater 1000",
    "less 100 and tcp",
    "host localhost",
    "ip and not tcp and not udp",
    "port 12345 or port 8080",
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[13] = 0x12",
    "tcp[tcpflags] & (tcp-rst|tcp-fin) != 0 and not port 53",
    "ip[8] < 64",
    "ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) != 0",
    "ip6[6] = 17 or ip6[7] > 63",
    "icmp[icmptype] = icmp-unreach",
    "icmp6[icmp6type] = icmp6-neighborsolicit",
    "udp[4:2] > 100",
    "ether[0] & 1 != 0",
    "len > 1000 or len < 60",
    "arp[7] = 2",
    "vlan and ip[9] = 6",
    "tcp[0:2] % 7 = 3",
    "udp[0:4] ^ udp[4:4] > 0x10000",
    "tcp[13] < -(0x10)",
    "tcp[1000] = 0 or udp",
    "ip[0] / (ip[1] & 0) = 0",
    "1 + 2 * 3 = 7 and 8 >> 1 << 2 = 16",
    "udp[0:2] % 5 + 2 = 1",
    "tcp[13] & 18 ^ 2 = 16",
    "mpls",
];

/// Expressions libpcap accepts that this filter refuses on purpose (its crate doc lists
/// them); for these only the refusal is checked.
fn unsupported(expr: &str) -> bool {
    expr.starts_with("mpls")
}

/// (expression, capture path suffix, what differs, who is right and why).
const DISAGREEMENTS: &[(&str, &str, &str, &str)] = &[(
    "ether src 02:68:54:ad:d5:3e or ether dst ee:ec:d3:a1:50:dd",
    "synthetic-1.pcap",
    "only ours: 36 frames cut to 6-11 bytes whose destination MAC is ee:ec:d3:a1:50:dd",
    "modsniff: the captured destination address proves the `or`; BPF loads the source \
     address first, finds it cut and rejects. Such frames cannot be Ethernet frames (a header \
     is 14 bytes) and the verdict here does not depend on which test comes first",
)];

struct Pkt {
    ts: (u32, u32),
    wire_len: u32,
    data: Vec<u8>,
}

struct Dump {
    link_type: u32,
    packets: Vec<Pkt>,
}

/// A classic pcap as tcpdump -w writes it (either byte order, micro or nanoseconds).
fn parse_pcap(b: &[u8]) -> Option<Dump> {
    let magic = b.get(..4)?;
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return None,
    };
    let u32_at = |at: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        })
    };
    let link_type = u32_at(20)? & 0x0fff_ffff;
    let mut packets = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let (sec, frac, incl, orig) = (
            u32_at(at)?,
            u32_at(at + 4)?,
            u32_at(at + 8)?,
            u32_at(at + 12)?,
        );
        let data = b.get(at + 16..at + 16 + incl as usize)?.to_vec();
        packets.push(Pkt {
            ts: (sec, frac),
            wire_len: orig,
            data,
        });
        at += 16 + incl as usize;
    }
    Some(Dump { link_type, packets })
}

enum Tcpdump {
    Selected(Dump),
    /// libpcap refused the expression (its message).
    Refused(String),
}

fn tcpdump(file: &Path, expr: Option<&str>) -> Tcpdump {
    let mut cmd = Command::new("tcpdump");
    cmd.arg("-r").arg(file).args(["-w", "-"]);
    if let Some(e) = expr {
        cmd.arg(e);
    }
    let out = cmd.output().expect("run tcpdump");
    match parse_pcap(&out.stdout) {
        Some(d) => Tcpdump::Selected(d),
        None => Tcpdump::Refused(
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.starts_with("reading from file"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            // fixtures/matrix repeats the fixtures' link types and layouts 200 times over:
            // the expressions x captures product stays on the distinct ones.
            if p.file_name()
                .is_some_and(|n| n != "reference" && n != "matrix")
            {
                captures(&p, out);
            }
        } else if p
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "trace" || x == "cap")
        {
            out.push(p);
        }
    }
}

fn write_pcap(path: &Path, link_type: u32, packets: &[Pkt]) {
    let mut out = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, link_type] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    for p in packets {
        for w in [p.ts.0, p.ts.1, p.data.len() as u32, p.wire_len] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&p.data);
    }
    std::fs::write(path, out).expect("write a synthetic capture");
}

/// Captures where BPF's corner cases live: packets of several fixtures cut at every length
/// (a field past the captured end rejects the packet, even under `not`), and IPv4 headers
/// with every IHL value and with the fragment offset set.
fn synthetic(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let sources = [
        "fixtures/ipv6-clean/capture.pcap",
        "fixtures/clean/capture.pcap",
        "fixtures/public/zeek/mixed-vlan-mpls.pcap",
        "fixtures/clean-sll/capture.pcap",
        "fixtures/gfw-rst-both/capture.pcap",
        "fixtures/public/suricata-verify/http-connect-fail/input.pcap",
        "fixtures/public/suricata-verify/bug-6887-defrag-ipv6-tcp/frag-ip-tcp.pcap",
        "fixtures/public/zeek/ipv4/fragmented-syn.pcap",
        "../shared/pcaps/public/tcpdump/802.1ad_QinQ.pcap",
        "../shared/pcaps/public/zeek/vlan-qinqinq.pcap",
    ];
    let mut out = Vec::new();
    for (n, src) in sources.iter().enumerate() {
        let Tcpdump::Selected(dump) = tcpdump(&root.join(src), None) else {
            continue;
        };
        let mut made = Vec::new();
        let mut second = 0;
        let mut push = |data: Vec<u8>, wire_len: u32| {
            second += 1;
            made.push(Pkt {
                ts: (second, 0),
                wire_len,
                data,
            });
        };
        // A spread of packets: the first twelve and every tenth after.
        for (i, p) in dump.packets.iter().enumerate() {
            if i >= 12 && i % 10 != 0 {
                continue;
            }
            for len in 0..=p.data.len().min(96) {
                push(p.data[..len].to_vec(), p.wire_len);
            }
            if dump.link_type == 1 && p.data.len() > 34 && p.data[12..14] == [0x08, 0x00] {
                for ihl in 0..16u8 {
                    let mut d = p.data.clone();
                    d[14] = 0x40 | ihl;
                    push(d, p.wire_len);
                }
                let mut d = p.data.clone();
                d[20] |= 0x01; // fragment offset 256: a later fragment
                push(d, p.wire_len);
            }
        }
        let path = dir.join(format!("synthetic-{n}.pcap"));
        write_pcap(&path, dump.link_type, &made);
        out.push(path);
    }
    out
}

fn same(a: &Pkt, b: &Pkt) -> bool {
    a.ts == b.ts && a.wire_len == b.wire_len && a.data == b.data
}

/// The 1-based frame numbers of `picked` in `all` (a subsequence, matched greedily).
fn frame_numbers(all: &[Pkt], picked: &[Pkt]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    for p in picked {
        while i < all.len() && !same(&all[i], p) {
            i += 1;
        }
        if i < all.len() {
            out.push(i + 1);
            i += 1;
        }
    }
    out
}

fn short(v: &[usize]) -> String {
    let s: Vec<String> = v.iter().take(12).map(|n| n.to_string()).collect();
    let more = if v.len() > 12 { ", ..." } else { "" };
    format!("[{}{more}] ({} frames)", s.join(", "), v.len())
}

#[test]
fn agrees_with_tcpdump() {
    if Command::new("tcpdump").arg("--version").output().is_err() {
        eprintln!("SKIP tcpdump oracle: tcpdump is not installed (apt-get install tcpdump)");
        return;
    }
    assert!(EXPRESSIONS.len() >= 30);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    captures(&root.join("fixtures"), &mut files);
    let shared = root.join("../shared/pcaps/public");
    if shared.is_dir() {
        captures(&shared, &mut files);
    } else {
        eprintln!("note: ../shared/pcaps/public is absent; fixtures/ only");
    }

    let tmp = std::env::temp_dir().join(format!("modsniff-filter-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temporary directory");
    files.extend(synthetic(&root, &tmp));

    let filters: Vec<(&str, Result<Filter, FilterError>)> =
        EXPRESSIONS.iter().map(|e| (*e, Filter::new(e))).collect();
    for (e, f) in &filters {
        match f {
            Err(FilterError::Unsupported { .. }) if unsupported(e) => {}
            Err(err) => panic!("{e:?} does not compile: {err}"),
            Ok(_) if unsupported(e) => panic!("{e:?} was expected to be refused"),
            Ok(_) => {}
        }
    }

    // Two workers: tcpdump runs thousands of times.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(usize, usize, usize, Vec<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let (mut compared, mut refused, mut skipped, mut bad) = (0, 0, 0, Vec::new());
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        let name = file
                            .strip_prefix(&root)
                            .or_else(|_| file.strip_prefix(&tmp))
                            .unwrap_or(file)
                            .display()
                            .to_string();
                        let all = match tcpdump(file, None) {
                            Tcpdump::Selected(d) => d,
                            Tcpdump::Refused(_) => {
                                skipped += 1; // libpcap cannot read it at all
                                continue;
                            }
                        };
                        for (expr, filter) in &filters {
                            let Ok(filter) = filter else { continue };
                            let theirs = tcpdump(file, Some(expr));
                            let ours = filter.for_link_type(all.link_type);
                            let known = DISAGREEMENTS
                                .iter()
                                .any(|(e, f, ..)| e == expr && name.ends_with(f));
                            let verdict = match (&theirs, &ours) {
                                (Tcpdump::Refused(msg), Err(_)) => {
                                    refused += 1;
                                    let _ = msg;
                                    None
                                }
                                (Tcpdump::Refused(msg), Ok(prog)) => {
                                    // libpcap's optimizer refuses filters that can match
                                    // nothing, or that divide by a constant it folded to
                                    // zero; ours must then match nothing.
                                    let n = all
                                        .packets
                                        .iter()
                                        .filter(|p| prog.matches(&p.data, p.wire_len))
                                        .count();
                                    let optimizer = [
                                        "expression rejects all packets",
                                        "division by zero",
                                        "modulus by zero",
                                    ];
                                    if optimizer.iter().any(|m| msg.contains(m)) && n == 0 {
                                        compared += 1;
                                        None
                                    } else {
                                        Some(format!("tcpdump refused ({msg}); we selected {n}"))
                                    }
                                }
                                (Tcpdump::Selected(_), Err(err)) => {
                                    Some(format!("tcpdump accepted; we refused: {err}"))
                                }
                                (Tcpdump::Selected(t), Ok(prog)) => {
                                    compared += 1;
                                    let mine: Vec<usize> = all
                                        .packets
                                        .iter()
                                        .enumerate()
                                        .filter(|(_, p)| prog.matches(&p.data, p.wire_len))
                                        .map(|(i, _)| i + 1)
                                        .collect();
                                    let agree = mine.len() == t.packets.len()
                                        && mine
                                            .iter()
                                            .zip(&t.packets)
                                            .all(|(i, p)| same(&all.packets[i - 1], p));
                                    if agree {
                                        None
                                    } else {
                                        let theirs = frame_numbers(&all.packets, &t.packets);
                                        let only_ours: Vec<usize> = mine
                                            .iter()
                                            .filter(|n| !theirs.contains(n))
                                            .copied()
                                            .collect();
                                        let only_theirs: Vec<usize> = theirs
                                            .iter()
                                            .filter(|n| !mine.contains(n))
                                            .copied()
                                            .collect();
                                        Some(format!(
                                            "only ours {}, only tcpdump's {}",
                                            short(&only_ours),
                                            short(&only_theirs)
                                        ))
                                    }
                                }
                            };
                            match (verdict, known) {
                                (Some(v), false) => bad.push(format!("{name}: {expr:?}: {v}")),
                                (None, true) => bad.push(format!(
                                    "{name}: {expr:?}: listed as a disagreement but agrees now"
                                )),
                                _ => {}
                            }
                        }
                    }
                    (compared, refused, skipped, bad)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });

    let (mut compared, mut refused, mut skipped, mut bad) = (0, 0, 0, Vec::new());
    for (c, r, s, b) in results {
        compared += c;
        refused += r;
        skipped += s;
        bad.extend(b);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "tcpdump oracle: {} expressions x {} captures ({} unreadable by libpcap): \
         {compared} selections compared, {refused} refused by both, {} disagreements",
        filters.iter().filter(|(_, f)| f.is_ok()).count(),
        files.len() - skipped,
        skipped,
        bad.len()
    );
    assert!(compared > 1000, "too few comparisons: {compared}");
    assert!(
        bad.is_empty(),
        "disagreements with tcpdump:\n{}",
        bad.join("\n")
    );
}

/// What libpcap refuses to compile, this filter refuses too (and the other way round for
/// the accepted forms of the same mistakes).
#[test]
fn refuses_what_tcpdump_refuses() {
    if Command::new("tcpdump").arg("--version").output().is_err() {
        eprintln!("SKIP tcpdump refusals: tcpdump is not installed");
        return;
    }
    let cases: &[(&str, bool)] = &[
        ("tcp or 80", false),
        ("tcp or port 80", true),
        ("host", false),
        ("10.0.0.1", false),
        ("10.1", false),
        ("net 10.1", true),
        ("ip proto tcp", false),
        ("ip proto \\tcp", true),
        ("port 99999", false),
        ("port 080", false),
        ("src or host 1.2.3.4", false),
        ("src or dst host 1.2.3.4", true),
        ("net 10.0.0.1/8", false),
        ("host 10.0.0.0/8", false),
        ("vlan 5000", false),
        ("vlan 4095", true),
        ("ip6 host 1.2.3.4", false),
        ("udp port http", false),
        ("tcp port http", true),
        ("host ((1.2.3.4) or 1.2.3.5)", false),
        ("host (1.2.3.4 or (1.2.3.5 and 1.2.3.6))", true),
        ("less (10)", false),
        ("port 80 or", false),
        ("(tcp", false),
        ("tcp)", false),
        ("tcp proto 6", false),
        ("src proto 6", false),
        ("ether host 10.0.0.1", false),
        ("host 1:2:3:4:5:6", false),
        ("not not not tcp", true),
        ("! (tcp || udp) && ! arp", true),
    ];
    let mut bad = Vec::new();
    for (expr, ok) in cases {
        let theirs = Command::new("tcpdump")
            .args(["-d", "-y", "EN10MB", expr])
            .output()
            .expect("run tcpdump")
            .status
            .success();
        let ours = Filter::new(expr).and_then(|f| f.for_link_type(1).map(|_| ()));
        if theirs != *ok || ours.is_ok() != *ok {
            bad.push(format!(
                "{expr:?}: tcpdump ok={theirs}, ours={ours:?}, table says {ok}"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
