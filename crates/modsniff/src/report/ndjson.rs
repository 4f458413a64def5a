//! `--format ndjson`: one record per line, each written as soon as it is known, by the
//! records' own writer (`records::json`).
//!
//! A finding printed while a live capture runs is marked `provisional`: the run's end prints
//! every final finding after it (the fault may have been recovered from, a stall may have
//! resumed), so `select(.type == "finding" and (.provisional | not))` is the outcome.

use super::records::write::WriteJson;
use super::records::{
    ConnectionRecord, DnsRecord, FetchRecord, FindingRecord, FleetIdentity, Record, Stamper,
};
use super::{Printer, RunEnd};
use crate::analyze::GoInfo;
use crate::diagnose::Finding;
use modsniff_core::Connection;
use modsniff_core::dns::DnsRecord as Query;
use std::io::{self, Write};

pub struct NdjsonPrinter<W: Write> {
    out: W,
    /// Whole lines not yet handed to `out`, reused: up to `BATCH` bytes and one record.
    line: Vec<u8>,
    /// Stamps the fleet fields, when they are asked for.
    stamp: Option<Stamper>,
}

/// Lines are gathered in the printer's own buffer and handed to the writer past this many
/// bytes: the writer is a `BufWriter` of the same size, which passes a write that large
/// straight through instead of copying it into its buffer. One copy less of every record
/// byte (the copy was 3.5 % of `read --format ndjson --threads 1` on the quarter corpus, whose
/// records are 223 MB). The writer still sees whole lines only.
const BATCH: usize = 1 << 16;

impl<W: Write> NdjsonPrinter<W> {
    pub fn new(out: W, fleet: Option<FleetIdentity>) -> Self {
        NdjsonPrinter {
            out,
            line: Vec::new(),
            stamp: fleet.map(Stamper::new),
        }
    }

    /// One record, as one line, handed to the writer with the lines before it past `BATCH`.
    fn write(&mut self, rec: Record<'_>) -> io::Result<()> {
        let NdjsonPrinter { line, stamp, .. } = self;
        match stamp {
            Some(s) => rec.with_fleet(s.next()).write_json(line),
            None => rec.write_json(line),
        }
        line.push(b'\n');
        if self.line.len() >= BATCH {
            self.drain()?;
        }
        Ok(())
    }

    /// Hands the gathered lines to the writer.
    fn drain(&mut self) -> io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        let r = self.out.write_all(&self.line);
        self.line.clear();
        r
    }

    /// Hands the gathered lines to the writer and flushes it.
    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.out.flush()
    }
}

/// What was gathered goes to the writer (whose own drop flushes it), as a `BufWriter`'s
/// buffer would have.
impl<W: Write> Drop for NdjsonPrinter<W> {
    fn drop(&mut self) {
        // Nobody is left to tell: as `BufWriter`'s drop, errors are dropped.
        let _ = self.drain();
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
        self.write(Record::Finding(FindingRecord::provisional(f)))?;
        // Flushed: a live finding is news only while it is happening.
        self.flush()
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        for f in end.fetches {
            self.write(Record::Fetch(FetchRecord::from(*f)))?;
        }
        for f in end.findings {
            self.write(Record::Finding(FindingRecord::from(*f)))?;
        }
        self.write(Record::Stats(end.stats_record()))?;
        self.flush()
    }

    fn close(&mut self) -> io::Result<()> {
        self.flush()
    }

    /// A live capture's records reach the file (or pipe) within a tick of being known,
    /// rather than when 64 KiB of them have gathered; the flush also runs the output's
    /// clock (rotation by age, reopening).
    fn tick(&mut self) -> io::Result<()> {
        self.flush()
    }
}
