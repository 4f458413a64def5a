//! `--format ndjson`: one record per line, each written as soon as it is known, by the
//! records' own writer (`records::json`).

use super::records::write::WriteJson;
use super::records::{ConnectionRecord, DnsRecord, FindingRecord, FleetIdentity, Record, Stamper};
use super::{Printer, RunEnd};
use crate::analyze::GoInfo;
use crate::diagnose::Finding;
use modsniff_core::Connection;
use modsniff_core::dns::DnsRecord as Query;
use std::collections::HashSet;
use std::io::{self, Write};

pub struct NdjsonPrinter<W> {
    out: W,
    /// One record at a time, reused: its capacity grows to the largest record and stays.
    line: Vec<u8>,
    /// The findings `early_finding` printed (live), by `early_key`, so that `finish` does not
    /// print them again. Bounded by the diagnosis's cap on findings.
    early: HashSet<String>,
    /// Stamps the fleet fields, when they are asked for.
    stamp: Option<Stamper>,
}

/// What makes a finding printed early (live) the same as one in the final list: the final
/// list orders evidence by frame, so the records themselves may differ in that order.
fn early_key(f: &Finding) -> String {
    format!(
        "{} {:?} {:?} {}",
        f.kind.as_str(),
        f.connection,
        f.server,
        f.summary
    )
}

impl<W: Write> NdjsonPrinter<W> {
    pub fn new(out: W, fleet: Option<FleetIdentity>) -> Self {
        NdjsonPrinter {
            out,
            line: Vec::new(),
            early: HashSet::new(),
            stamp: fleet.map(Stamper::new),
        }
    }

    /// One record, as one line handed to the writer in one piece.
    fn write(&mut self, rec: Record<'_>) -> io::Result<()> {
        let NdjsonPrinter {
            out, line, stamp, ..
        } = self;
        line.clear();
        match stamp {
            Some(s) => rec.with_fleet(s.next()).write_json(line),
            None => rec.write_json(line),
        }
        line.push(b'\n');
        out.write_all(line)
    }
}

impl<W: Write> Printer for NdjsonPrinter<W> {
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()> {
        self.write(Record::Connection(ConnectionRecord::new(c, go)))
    }

    fn dns(&mut self, r: &Query) -> io::Result<()> {
        self.write(Record::Dns(DnsRecord::from(r)))
    }

    fn early_finding(&mut self, f: &Finding) -> io::Result<()> {
        self.early.insert(early_key(f));
        self.write(Record::Finding(FindingRecord::from(f)))?;
        // Flushed: a live finding is news only while it is happening.
        self.out.flush()
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        for f in end.findings {
            // Printed already while the capture ran (live): once is the contract.
            if self.early.remove(&early_key(f)) {
                continue;
            }
            self.write(Record::Finding(FindingRecord::from(*f)))?;
        }
        self.write(Record::Stats(end.stats_record()))?;
        self.out.flush()
    }

    fn close(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// A live capture's records reach the file (or pipe) within a tick of being known,
    /// rather than when 64 KiB of them have gathered; the flush also runs the output's
    /// clock (rotation by age, reopening).
    fn tick(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
