//! `--format json`: the records of every run as one document, grouped by type (`connections`,
//! `dns`, `fetches`, `findings`, `stats`, in that order). Each record goes through serde
//! (`Serialize` derived from the same types the NDJSON writer writes) into a
//! `serde_json::Value`, whose keys are sorted, and is pretty-printed as serde_json prints
//! the whole document.
//!
//! The document is streamed, not held: connections are written as they end; the records of
//! the later groups wait, already printed, in an unnamed temporary file each (a DNS record of
//! every lookup of a long capture would otherwise grow with it), and are copied out at the
//! end. Held as `Value`s, the quarter bench corpus (80k connections) took 1.5 GiB; streamed,
//! it takes what `--format ndjson` takes.

use super::records::{
    ConnectionRecord, DnsRecord, FetchRecord, FindingRecord, FleetIdentity, Record, Stamper,
};
use super::{Printer, RunEnd};
use crate::analyze::GoInfo;
use crate::diagnose::Finding;
use modsniff_core::Connection;
use modsniff_core::dns::DnsRecord as Query;
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};

/// The groups after `connections`, in the document's order.
const LATER: [&str; 4] = ["dns", "fetches", "findings", "stats"];
const DNS: usize = 0;
const FETCHES: usize = 1;
const FINDINGS: usize = 2;
const STATS: usize = 3;

/// Records of one group, printed as array elements, waiting for their place.
#[derive(Default)]
struct Spool {
    /// Created with the group's first record.
    file: Option<BufWriter<File>>,
    records: u64,
}

impl Spool {
    fn push(&mut self, v: &serde_json::Value) -> io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self
                .file
                .insert(BufWriter::with_capacity(1 << 16, tempfile::tempfile()?)),
        };
        element(file, self.records == 0, v)?;
        self.records += 1;
        Ok(())
    }

    /// Writes the group's array (`[]` when empty) to `out`.
    fn copy_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        match self.file.take() {
            None => out.write_all(b"[]"),
            Some(f) => {
                let mut f = f.into_inner().map_err(|e| e.into_error())?;
                f.rewind()?;
                out.write_all(b"[")?;
                io::copy(&mut f, out)?;
                out.write_all(b"\n  ]")
            }
        }
    }
}

/// One array element as serde_json's pretty printer writes it two levels deep: its own
/// lines indented by four more spaces (a JSON string never holds a raw newline, so every
/// line break is the printer's).
fn element(out: &mut impl Write, first: bool, v: &serde_json::Value) -> io::Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(io::Error::other)?;
    out.write_all(if first { b"\n" } else { b",\n" })?;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.write_all(b"\n")?;
        }
        out.write_all(b"    ")?;
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

pub struct JsonPrinter<W> {
    out: W,
    /// Connections written so far (the document's head is written with the first record).
    connections: u64,
    started: bool,
    later: [Spool; 4],
    /// Stamps the fleet fields, when they are asked for.
    stamp: Option<Stamper>,
}

fn value(rec: Record<'_>, stamp: &mut Option<Stamper>) -> io::Result<serde_json::Value> {
    match stamp {
        Some(s) => serde_json::to_value(rec.with_fleet(s.next())),
        None => serde_json::to_value(rec),
    }
    .map_err(io::Error::other)
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(out: W, fleet: Option<FleetIdentity>) -> Self {
        JsonPrinter {
            out,
            connections: 0,
            started: false,
            later: Default::default(),
            stamp: fleet.map(Stamper::new),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            self.out.write_all(b"{\n  \"connections\": [")?;
        }
        Ok(())
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()> {
        let v = value(
            Record::Connection(ConnectionRecord::new(c, go)),
            &mut self.stamp,
        )?;
        self.start()?;
        element(&mut self.out, self.connections == 0, &v)?;
        self.connections += 1;
        Ok(())
    }

    fn dns(&mut self, r: &Query) -> io::Result<()> {
        let v = value(Record::Dns(DnsRecord::from(r)), &mut self.stamp)?;
        self.later[DNS].push(&v)
    }

    /// Findings are written with the run's end: nothing to do early.
    fn early_finding(&mut self, _: &Finding) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        for f in end.fetches {
            let v = value(Record::Fetch(FetchRecord::from(*f)), &mut self.stamp)?;
            self.later[FETCHES].push(&v)?;
        }
        for f in end.findings {
            let v = value(Record::Finding(FindingRecord::from(*f)), &mut self.stamp)?;
            self.later[FINDINGS].push(&v)?;
        }
        let v = value(Record::Stats(end.stats_record()), &mut self.stamp)?;
        self.later[STATS].push(&v)
    }

    fn close(&mut self) -> io::Result<()> {
        self.start()?;
        self.out.write_all(if self.connections == 0 {
            b"]"
        } else {
            b"\n  ]"
        })?;
        for (name, spool) in LATER.iter().zip(&mut self.later) {
            write!(self.out, ",\n  \"{name}\": ")?;
            spool.copy_to(&mut self.out)?;
        }
        self.out.write_all(b"\n}\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The streamed document is the bytes serde_json's pretty printer makes of the whole
    /// document at once (what this printer wrote before it streamed), for empty groups, one
    /// record and several, nested objects and arrays, and strings holding escaped newlines.
    #[test]
    fn streamed_document_is_what_serde_json_prints_of_the_whole() {
        let rec = |i: u64| json!({"id": i, "name": "a\nb \"q\"", "nested": {"list": [1, {"x": []}], "empty": {}}});
        for counts in [
            [0, 0, 0, 0, 0],
            [1, 0, 0, 0, 1],
            [3, 2, 1, 4, 2],
            [0, 5, 0, 0, 1],
        ] {
            let mut whole = serde_json::Map::new();
            let mut p = JsonPrinter::new(Vec::new(), None);
            let n = counts[0];
            whole.insert(
                "connections".into(),
                (0..n).map(rec).collect::<Vec<_>>().into(),
            );
            for i in 0..n {
                p.start().unwrap();
                element(&mut p.out, i == 0, &rec(i)).unwrap();
                p.connections += 1;
            }
            // Streamed: the connections are out before the document ends.
            let so_far = String::from_utf8(p.out.clone()).unwrap();
            assert_eq!(so_far.matches("\"id\"").count() as u64, n);
            for (g, name) in LATER.iter().enumerate() {
                let n = counts[g + 1];
                whole.insert((*name).into(), (0..n).map(rec).collect::<Vec<_>>().into());
                for i in 0..n {
                    p.later[g].push(&rec(i)).unwrap();
                }
            }
            p.close().unwrap();
            let mut expected = serde_json::to_string_pretty(&whole).unwrap();
            expected.push('\n');
            assert_eq!(String::from_utf8(p.out).unwrap(), expected, "{counts:?}");
        }
    }
}
