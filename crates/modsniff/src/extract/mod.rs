//! `--extract OUT` (and `read -w OUT`): the failing flows as a small capture file to hand
//! the network team, and the report's frames mapped into it ("frame 12, frame 3 in OUT").
//!
//! What goes in: the connections with findings, or, when a selection is given
//! (`--host`/`--port`/`--server-name`), the selected connections, or, when only a filter
//! expression is given, every packet it kept (as `tcpdump -r in -w out EXPR`); with them
//! their DNS (the queries for the connection's server name or answering its address, and
//! the flows that carried them), and every frame a finding cites.
//!
//! Which packets those are is known only once the run has ended, so the packets are read
//! twice: the [`Extractor`] sits in front of the printers, remembers the addresses and times
//! of each connection and DNS query as their records pass (bounded: [`MAX_FLOWS`],
//! [`MAX_DNS`]), and when the run ends replays the input (a [`Replay`] the command hands it:
//! the capture file again, or the [`spool`] that kept the packets of standard input or of a
//! live capture), writes the packets that belong to a chosen connection, and tells the
//! printers where each cited frame went ([`ExtractSummary`]).

pub mod spool;

use crate::analyze::GoInfo;
use crate::diagnose::{Finding, Severity, Stage};
use crate::report::records::ExtractFrame;
use crate::report::{ExtractSummary, Printer, Reported, RunEnd, Selection};
use modsniff_capture::{PcapNgWriter, PcapWriter, TsPrecision};
use modsniff_core::Transport;
use modsniff_core::dns::DnsRecord;
use modsniff_core::hooks::wire::{L4, decode};
use modsniff_core::{Connection, LinkType, Packet, Timestamp};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufWriter};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Connections whose addresses and times are remembered until the run ends, to find their
/// packets again (about 100 bytes each: ~10 MB). Beyond it the oldest is forgotten and
/// counted; a finding on a forgotten connection still brings the frames it cites.
pub const MAX_FLOWS: usize = 100_000;
/// DNS queries remembered likewise.
pub const MAX_DNS: usize = 100_000;
/// Connections after a softened finding looked at for the attempts that followed it, and DNS
/// answers of a resolver kept as the baseline a suspicious answer was judged against.
pub const CONTEXT_SCAN: usize = 1_000;
/// Largest captured length written per packet (the files' snaplen field).
const SNAPLEN: u32 = 262_144;

/// Feeds every packet of a run's input again, in order, with its original frame number, to
/// the sink; returns warnings (input that could not be read again, a spool that overflowed).
pub type Replay = Box<dyn FnOnce(&mut dyn FnMut(&Packet<'_>)) -> Vec<String> + Send>;

/// Where the command puts the run's [`Replay`] before the run ends (the extractor is behind
/// `dyn Printer`, shared with the analysis).
#[derive(Clone, Default)]
pub struct ReplaySlot(Arc<Mutex<Option<Replay>>>);

impl ReplaySlot {
    pub fn set(&self, replay: Replay) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(replay);
    }
    fn take(&self) -> Option<Replay> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Which connections go into the file.
#[derive(Clone, Debug)]
pub enum Choice {
    /// The connections with findings (no selection given).
    Findings,
    /// The connections, DNS records and findings the selection shows.
    Selected(Selection),
    /// Every packet the filter expression kept (a filter and no other selection).
    Everything,
}

impl Choice {
    /// From the printers' selection and whether a filter expression narrowed the input.
    pub fn new(selection: &Selection, filtered: bool) -> Choice {
        if !selection.is_all() {
            Choice::Selected(selection.clone())
        } else if filtered {
            Choice::Everything
        } else {
            Choice::Findings
        }
    }
}

/// A connection as the replay needs it.
#[derive(Clone, Debug)]
struct FlowBrief {
    tcp: bool,
    client: SocketAddr,
    server: SocketAddr,
    first: Timestamp,
    last: Timestamp,
    /// Lower case.
    name: Option<Box<str>>,
    selected: bool,
    /// The go command's traffic (a module proxy, checksum database or VCS host).
    go: bool,
}

/// A DNS query as the extraction needs it.
#[derive(Clone, Debug)]
struct DnsBrief {
    id: u16,
    conn_id: u64,
    /// Lower case.
    qname: Option<Box<str>>,
    answers: Box<[IpAddr]>,
    frames: [Option<u64>; 2],
    server: SocketAddr,
    selected: bool,
}

/// Both directions of a flow under one key (lower end first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    tcp: bool,
    a: SocketAddr,
    b: SocketAddr,
}

impl FlowKey {
    fn new(tcp: bool, x: SocketAddr, y: SocketAddr) -> FlowKey {
        let (a, b) = if (x.ip(), x.port()) <= (y.ip(), y.port()) {
            (x, y)
        } else {
            (y, x)
        };
        FlowKey { tcp, a, b }
    }
}

/// What the replay writes: flows by key (each with the time spans of the chosen
/// connections that used it: a port reused later is another connection), address pairs for
/// fragments (which carry no ports), and frames by number.
#[derive(Default)]
struct Wanted {
    everything: bool,
    flows: FxHashMap<FlowKey, Vec<(Timestamp, Timestamp)>>,
    pairs: FxHashMap<(IpAddr, IpAddr), Vec<(Timestamp, Timestamp)>>,
    frames: FxHashSet<u64>,
}

fn pair(x: IpAddr, y: IpAddr) -> (IpAddr, IpAddr) {
    if x <= y { (x, y) } else { (y, x) }
}

fn within(spans: Option<&Vec<(Timestamp, Timestamp)>>, ts: Timestamp) -> bool {
    spans.is_some_and(|v| v.iter().any(|&(a, b)| a <= ts && ts <= b))
}

impl Wanted {
    fn add_flow(&mut self, f: &FlowBrief) {
        let span = (f.first, f.last);
        self.flows
            .entry(FlowKey::new(f.tcp, f.client, f.server))
            .or_default()
            .push(span);
        // A packet made of fragments counts from its last one: the earlier fragments of the
        // flow's first packet come before the flow's first time, by at most the time the
        // engine waits for a datagram's fragments.
        let wait = modsniff_core::Limits::default().frag_timeout.as_nanos();
        let from = Timestamp::from_nanos(f.first.as_nanos().saturating_sub(wait));
        self.pairs
            .entry(pair(f.client.ip(), f.server.ip()))
            .or_default()
            .push((from, f.last));
    }

    fn wants(&self, pkt: &Packet<'_>) -> bool {
        if self.everything || self.frames.contains(&pkt.frame) {
            return true;
        }
        let d = decode(pkt.linktype, pkt.data);
        let Some(ip) = d.ip else {
            return false;
        };
        let flow = |tcp, sp, dp| {
            let k = FlowKey::new(
                tcp,
                SocketAddr::new(ip.src, sp),
                SocketAddr::new(ip.dst, dp),
            );
            within(self.flows.get(&k), pkt.ts)
        };
        match d.l4 {
            L4::Tcp(s) => flow(true, s.src_port, s.dst_port),
            L4::Udp(u) => flow(false, u.src_port, u.dst_port),
            // An ICMP error about a chosen flow (a port unreachable, a fragmentation needed).
            L4::IcmpError(e) => {
                let k = FlowKey::new(
                    e.quoted_proto == 6,
                    SocketAddr::new(e.quoted_src, e.quoted_src_port),
                    SocketAddr::new(e.quoted_dst, e.quoted_dst_port),
                );
                (e.quoted_proto == 6 || e.quoted_proto == 17) && within(self.flows.get(&k), pkt.ts)
            }
            L4::Fragment(_) => within(self.pairs.get(&pair(ip.src, ip.dst)), pkt.ts),
            L4::Other => false,
        }
    }
}

/// The output file, across runs: pcap (the link type of its first packet), or pcapng when
/// its name says so (every link type kept).
struct OutFile {
    path: PathBuf,
    file: Option<std::fs::File>,
    writer: Option<Writer>,
    /// Packets written, all runs.
    packets: u64,
    /// Packets not written: pcap holds one link type.
    other_link_type: u64,
}

enum Writer {
    Pcap(PcapWriter<BufWriter<std::fs::File>>, LinkType),
    Ng(PcapNgWriter<BufWriter<std::fs::File>>),
}

impl OutFile {
    fn create(path: &Path) -> io::Result<OutFile> {
        let file = std::fs::File::create(path)?;
        Ok(OutFile {
            path: path.to_path_buf(),
            file: Some(file),
            writer: None,
            packets: 0,
            other_link_type: 0,
        })
    }

    fn pcapng(&self) -> bool {
        self.path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"))
    }

    fn open(&mut self, linktype: LinkType) -> io::Result<&mut Writer> {
        if self.writer.is_none() {
            let file = self
                .file
                .take()
                .ok_or_else(|| io::Error::other("no file"))?;
            let out = BufWriter::with_capacity(1 << 16, file);
            self.writer = Some(if self.pcapng() {
                Writer::Ng(PcapNgWriter::new(out, SNAPLEN, TsPrecision::Nano)?)
            } else {
                Writer::Pcap(
                    PcapWriter::with_precision(out, linktype, SNAPLEN, TsPrecision::Micro)?,
                    linktype,
                )
            });
        }
        self.writer
            .as_mut()
            .ok_or_else(|| io::Error::other("no writer"))
    }

    /// Writes the packet; its frame number in the file, or None when pcap cannot hold it.
    fn write(&mut self, pkt: &Packet<'_>) -> io::Result<Option<u64>> {
        match self.open(pkt.linktype)? {
            Writer::Pcap(_, lt) if *lt != pkt.linktype => {
                self.other_link_type += 1;
                return Ok(None);
            }
            Writer::Pcap(w, _) => w.write_packet(pkt)?,
            Writer::Ng(w) => w.write_packet(pkt)?,
        }
        self.packets += 1;
        Ok(Some(self.packets))
    }

    /// Flushes; a file nothing was written to still gets its header (an empty capture).
    fn flush(&mut self) -> io::Result<()> {
        match self.open(LinkType::ETHERNET)? {
            Writer::Pcap(w, _) => w.flush(),
            Writer::Ng(w) => w.flush(),
        }
    }
}

/// Puts an [`Extractor`] writing to `out` in front of `rep`. Refuses standard output (the
/// report is there) and a file the run reads (creating OUT would empty it first).
pub fn wrap(
    rep: Box<dyn Printer + Send>,
    out: &Path,
    choice: Choice,
    inputs: &[PathBuf],
) -> anyhow::Result<(Box<dyn Printer + Send>, ReplaySlot)> {
    use anyhow::Context;
    if out.as_os_str() == "-" {
        anyhow::bail!(
            "the extract cannot go to standard output (the report is there): give a file name"
        );
    }
    if let Ok(o) = out.canonicalize()
        && inputs
            .iter()
            .any(|i| i.canonicalize().is_ok_and(|i| i == o))
    {
        anyhow::bail!(
            "{} is also an input: the extract would overwrite it",
            out.display()
        );
    }
    let (x, slot) =
        Extractor::new(rep, out, choice).with_context(|| format!("creating {}", out.display()))?;
    Ok((Box::new(x), slot))
}

/// A printer in front of the others that extracts the run's failing flows into a file
/// when the run ends, and hands the printers where the cited frames went.
pub struct Extractor {
    inner: Box<dyn Printer + Send>,
    choice: Choice,
    slot: ReplaySlot,
    out: OutFile,
    flows: FxHashMap<u64, FlowBrief>,
    flow_order: VecDeque<u64>,
    dns: VecDeque<DnsBrief>,
    /// Connections and DNS queries forgotten (the bounds above), this run.
    forgotten: u64,
}

impl Extractor {
    /// Creates OUT at once (an unwritable path fails before any capture), and the slot the
    /// command puts each run's replay in.
    pub fn new(
        inner: Box<dyn Printer + Send>,
        out: &Path,
        choice: Choice,
    ) -> io::Result<(Extractor, ReplaySlot)> {
        let slot = ReplaySlot::default();
        Ok((
            Extractor {
                inner,
                choice,
                slot: slot.clone(),
                out: OutFile::create(out)?,
                flows: FxHashMap::default(),
                flow_order: VecDeque::new(),
                dns: VecDeque::new(),
                forgotten: 0,
            },
            slot,
        ))
    }

    /// What to write for this run's findings and selection.
    fn wanted(&self, findings: &[&Reported]) -> (Wanted, FxHashSet<u64>, u64, u64) {
        let mut w = Wanted::default();
        let mut conns: FxHashSet<u64> = FxHashSet::default();
        // Warnings and infos are often errors the go command recovered from (a later
        // attempt to the same server succeeded, the GOPROXY list fell through to the next
        // proxy, or go said it recovered): the attempts that followed go in too, so that the
        // extract tells the same.
        let mut soft: Vec<&FlowBrief> = Vec::new();
        let mut dns_ids: FxHashSet<u16> = FxHashSet::default();
        let mut dns_names: FxHashSet<String> = FxHashSet::default();
        let mut resolvers: FxHashSet<SocketAddr> = FxHashSet::default();
        let mut cited: FxHashSet<u64> = FxHashSet::default();
        for r in findings {
            let f = &r.finding;
            if let Choice::Selected(s) = &self.choice
                && !s.finding(f)
            {
                continue;
            }
            cited.extend(f.evidence.iter().map(|e| e.packet));
            match (f.stage, f.connection) {
                // A DNS finding names the DNS message id.
                (Stage::Dns, Some(id)) => {
                    if let Ok(id) = u16::try_from(id) {
                        dns_ids.insert(id);
                    }
                    // A DNS finding is judged against the resolver's other answers (the TTL
                    // a forged answer gives away, the queries it did answer).
                    if let Some(server) = f.server.as_deref().and_then(|s| s.parse().ok()) {
                        resolvers.insert(server);
                    }
                    if let Some(n) = &f.server_name {
                        dns_names.insert(n.to_ascii_lowercase());
                    }
                }
                (_, Some(id)) => {
                    conns.insert(id);
                    if (f.severity < Severity::Error || r.recovered)
                        && let Some(fb) = self.flows.get(&id)
                    {
                        soft.push(fb);
                    }
                }
                _ => {}
            }
        }
        match &self.choice {
            Choice::Everything => w.everything = true,
            Choice::Findings => {}
            Choice::Selected(_) => {
                conns.extend(
                    self.flows
                        .iter()
                        .filter(|(_, f)| f.selected)
                        .map(|(id, _)| *id),
                );
            }
        }
        if !soft.is_empty() {
            let with_findings = conns.clone();
            let mut later: Vec<(Timestamp, u64, &FlowBrief)> = self
                .flows
                .iter()
                .filter(|(id, _)| !with_findings.contains(id))
                .map(|(id, f)| (f.first, *id, f))
                .collect();
            later.sort_unstable_by_key(|&(ts, id, _)| (ts, id));
            for fb in soft {
                let start = later.partition_point(|&(ts, _, _)| ts < fb.first);
                let same = |f: &FlowBrief| {
                    f.server.ip() == fb.server.ip() || (f.name.is_some() && f.name == fb.name)
                };
                let mut found = (false, false);
                // The next connection to the same server, and the next Go connection to
                // another (the next GOPROXY entry).
                for &(_, id, f) in later.iter().skip(start).take(CONTEXT_SCAN) {
                    let slot = if same(f) {
                        &mut found.0
                    } else if f.go {
                        &mut found.1
                    } else {
                        continue;
                    };
                    if !*slot {
                        *slot = true;
                        conns.insert(id);
                    }
                    if found == (true, true) {
                        break;
                    }
                }
                // And the one to the same server just before it: what a finding is judged
                // against may have come first (the longer module path the server served,
                // which makes a lookup's 404 part of the go command's search).
                if let Some(&(_, id, _)) = later
                    .get(..start)
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .take(CONTEXT_SCAN)
                    .find(|&&(_, _, f)| same(f))
                {
                    conns.insert(id);
                }
            }
        }
        // Their DNS: queries for the chosen connections' names, or answering their servers.
        let mut names: FxHashSet<&str> = FxHashSet::default();
        let mut servers: FxHashSet<IpAddr> = FxHashSet::default();
        for f in conns.iter().filter_map(|id| self.flows.get(id)) {
            if let Some(n) = &f.name {
                names.insert(n);
            }
            servers.insert(f.server.ip());
        }
        let mut dns_count = 0;
        let mut carriers = Vec::new();
        let mut baseline = 0;
        for d in &self.dns {
            let baseline_of = resolvers.contains(&d.server) && baseline < CONTEXT_SCAN;
            baseline += usize::from(baseline_of);
            let by_finding = dns_ids.contains(&d.id)
                && d.qname.as_deref().is_none_or(|q| {
                    dns_names.is_empty() || dns_names.iter().any(|n| n.as_str() == q)
                });
            let related = d.qname.as_deref().is_some_and(|q| names.contains(q))
                || d.answers.iter().any(|a| servers.contains(a));
            if by_finding || related || d.selected || baseline_of {
                dns_count += 1;
                w.frames.extend(d.frames.iter().flatten());
                carriers.push(d.conn_id);
            }
        }
        // Counted before the flows that carried their DNS join them.
        let conn_count = conns
            .iter()
            .filter(|id| self.flows.contains_key(id))
            .count() as u64;
        conns.extend(carriers);
        for f in conns.iter().filter_map(|id| self.flows.get(id)) {
            w.add_flow(f);
        }
        w.frames.extend(cited.iter().copied());
        (w, cited, conn_count, dns_count)
    }

    /// Replays the run's input into the file; the summary for the printers.
    fn extract(&mut self, findings: &[&Reported]) -> io::Result<(ExtractSummary, Vec<String>)> {
        let (wanted, cited, connections, dns) = self.wanted(findings);
        let mut frames = BTreeMap::new();
        let before = (self.out.packets, self.out.other_link_type);
        let mut error: Option<io::Error> = None;
        let mut warnings = Vec::new();
        // The input's last packet, when it is not wanted: written last all the same, as the
        // end of the capture is what silence is measured against (a query "unanswered", a
        // stall), so the extract keeps the capture's duration.
        let mut last: Option<(Timestamp, u64, u32, LinkType, Vec<u8>)> = None;
        let mut wrote_any = false;
        match self.slot.take() {
            Some(replay) => {
                let out = &mut self.out;
                warnings = replay(&mut |pkt: &Packet<'_>| {
                    if error.is_some() {
                        return;
                    }
                    if !wanted.wants(pkt) {
                        let l =
                            last.get_or_insert_with(|| (pkt.ts, 0, 0, pkt.linktype, Vec::new()));
                        (l.0, l.1, l.2, l.3) = (pkt.ts, pkt.frame, pkt.orig_len, pkt.linktype);
                        l.4.clear();
                        l.4.extend_from_slice(pkt.data);
                        return;
                    }
                    if let Some(l) = last.as_mut() {
                        l.1 = 0;
                    }
                    wrote_any = true;
                    match out.write(pkt) {
                        Ok(Some(n)) if cited.contains(&pkt.frame) => {
                            frames.entry(pkt.frame).or_insert(n);
                        }
                        Ok(_) => {}
                        Err(e) => error = Some(e),
                    }
                });
                if let Some((ts, frame, orig_len, linktype, data)) = last
                    && frame != 0
                    && wrote_any
                    && error.is_none()
                {
                    self.out.write(&Packet {
                        ts,
                        frame,
                        orig_len,
                        linktype,
                        data: &data,
                    })?;
                }
            }
            None => warnings.push("the input could not be read again: nothing extracted".into()),
        }
        if let Some(e) = error {
            return Err(e);
        }
        self.out.flush()?;
        let file = self.out.path.display().to_string();
        let skipped = self.out.other_link_type - before.1;
        if skipped > 0 {
            warnings.push(format!(
                "{skipped} packets of another link type were left out of {file}: a pcap file \
                 holds one; name it .pcapng to keep them all"
            ));
        }
        if self.forgotten > 0 {
            warnings.push(format!(
                "{} connections or DNS queries were forgotten before the run ended (more \
                 than {MAX_FLOWS} connections or {MAX_DNS} queries): only the frames their \
                 findings cite are in {file}",
                self.forgotten
            ));
        }
        let packets = self.out.packets - before.0;
        Ok((
            ExtractSummary {
                file,
                packets,
                first_frame: before.0 + 1,
                connections,
                dns,
                frames: frames
                    .into_iter()
                    .map(|(packet, extract_packet)| ExtractFrame {
                        packet,
                        extract_packet,
                    })
                    .collect(),
                cited: cited.len() as u64,
                all_kept: matches!(self.choice, Choice::Everything),
            },
            warnings,
        ))
    }
}

impl Printer for Extractor {
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()> {
        // Every connection is remembered (bounded) but with `Everything`, which needs none:
        // the unselected ones may carry the DNS of a selected one.
        if !matches!(self.choice, Choice::Everything) {
            if self.flows.len() >= MAX_FLOWS
                && let Some(old) = self.flow_order.pop_front()
            {
                self.flows.remove(&old);
                self.forgotten += 1;
            }
            self.flow_order.push_back(c.id);
            self.flows.insert(
                c.id,
                FlowBrief {
                    tcp: c.transport == Transport::Tcp,
                    client: c.client,
                    server: c.server,
                    first: c.ts_first,
                    last: c.ts_last,
                    name: c
                        .server_name
                        .as_deref()
                        .map(|n| n.to_ascii_lowercase().into()),
                    selected: matches!(&self.choice, Choice::Selected(s) if s.connection(c)),
                    go: go.is_some(),
                },
            );
        }
        self.inner.connection(c, go)
    }

    fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        if !matches!(self.choice, Choice::Everything) {
            if self.dns.len() >= MAX_DNS {
                self.dns.pop_front();
                self.forgotten += 1;
            }
            self.dns.push_back(DnsBrief {
                id: r.id,
                conn_id: r.conn_id,
                qname: r.qname.as_deref().map(|n| n.to_ascii_lowercase().into()),
                answers: r.answer_addresses().collect(),
                frames: [r.query_frame, r.response_frame],
                server: r.server,
                selected: matches!(&self.choice, Choice::Selected(s) if s.dns(r)),
            });
        }
        self.inner.dns(r)
    }

    fn early_finding(&mut self, f: &Finding) -> io::Result<()> {
        self.inner.early_finding(f)
    }

    fn tick(&mut self) -> io::Result<()> {
        self.inner.tick()
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        // An extract that cannot be written (a full disk) costs the extract, not the report:
        // the report is printed with the failure among its warnings, and the failure is
        // returned once it is (exit 2).
        let (summary, mut warnings, failed) = match self.extract(end.findings) {
            Ok((summary, warnings)) => (Some(summary), warnings, None),
            Err(e) => {
                let file = self.out.path.display().to_string();
                (
                    None,
                    vec![format!(
                        "writing the extract {file} failed ({e}): the report is whole, the extract is not"
                    )],
                    Some(io::Error::new(
                        e.kind(),
                        format!("writing the extract {file}: {e}"),
                    )),
                )
            }
        };
        self.flows.clear();
        self.flow_order.clear();
        self.dns.clear();
        self.forgotten = 0;
        let all: Vec<String> = end
            .warnings
            .iter()
            .cloned()
            .chain(warnings.drain(..))
            .collect();
        self.inner.finish(&RunEnd {
            warnings: &all,
            extract: summary.as_ref(),
            ..*end
        })?;
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_keys_join_both_directions() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:443".parse().unwrap();
        assert_eq!(FlowKey::new(true, a, b), FlowKey::new(true, b, a));
        assert_ne!(FlowKey::new(true, a, b), FlowKey::new(false, a, b));
    }

    #[test]
    fn a_reused_port_is_another_connection() {
        let mut w = Wanted::default();
        w.add_flow(&FlowBrief {
            tcp: true,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:443".parse().unwrap(),
            first: Timestamp::from_nanos(10),
            last: Timestamp::from_nanos(20),
            name: None,
            selected: false,
            go: false,
        });
        let k = FlowKey::new(
            true,
            "10.0.0.2:443".parse().unwrap(),
            "10.0.0.1:40000".parse().unwrap(),
        );
        assert!(within(w.flows.get(&k), Timestamp::from_nanos(15)));
        assert!(!within(w.flows.get(&k), Timestamp::from_nanos(21)));
    }
}
