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

pub struct NdjsonPrinter<W> {
    out: W,
    /// One record at a time, reused: its capacity grows to the largest record and stays.
    line: Vec<u8>,
    /// Stamps the fleet fields, when they are asked for.
    stamp: Option<Stamper>,
}

impl<W: Write> NdjsonPrinter<W> {
    pub fn new(out: W, fleet: Option<FleetIdentity>) -> Self {
        NdjsonPrinter {
            out,
            line: Vec::new(),
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
        self.write(Record::Finding(FindingRecord::provisional(f)))?;
        // Flushed: a live finding is news only while it is happening.
        self.out.flush()
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        for f in end.fetches {
            self.write(Record::Fetch(FetchRecord::from(*f)))?;
        }
        for f in end.findings {
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
