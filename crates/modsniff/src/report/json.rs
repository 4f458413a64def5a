//! `--format json`: the records of every run as one document, grouped by type, written after
//! the last run. Each record goes through serde (`Serialize` derived from the same types the
//! NDJSON writer writes) into a `serde_json::Value`, whose keys are sorted.

use super::records::{
    ConnectionRecord, DnsRecord, FetchRecord, FindingRecord, FleetIdentity, Record, Stamper,
};
use super::{Printer, RunEnd};
use crate::analyze::GoInfo;
use crate::diagnose::Finding;
use modsniff_core::Connection;
use modsniff_core::dns::DnsRecord as Query;
use serde::Serialize;
use std::io::{self, Write};

/// The document: the records of each type, in the order they were known.
#[derive(Default, Serialize)]
struct Document {
    connections: Vec<serde_json::Value>,
    dns: Vec<serde_json::Value>,
    fetches: Vec<serde_json::Value>,
    findings: Vec<serde_json::Value>,
    stats: Vec<serde_json::Value>,
}

pub struct JsonPrinter<W> {
    out: W,
    doc: Document,
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
            doc: Document::default(),
            stamp: fleet.map(Stamper::new),
        }
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()> {
        let v = value(
            Record::Connection(ConnectionRecord::new(c, go)),
            &mut self.stamp,
        )?;
        self.doc.connections.push(v);
        Ok(())
    }

    fn dns(&mut self, r: &Query) -> io::Result<()> {
        let v = value(Record::Dns(DnsRecord::from(r)), &mut self.stamp)?;
        self.doc.dns.push(v);
        Ok(())
    }

    /// The document is written at the end, findings included: nothing to do early.
    fn early_finding(&mut self, _: &Finding) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        for f in end.fetches {
            let v = value(Record::Fetch(FetchRecord::from(*f)), &mut self.stamp)?;
            self.doc.fetches.push(v);
        }
        for f in end.findings {
            let v = value(Record::Finding(FindingRecord::from(*f)), &mut self.stamp)?;
            self.doc.findings.push(v);
        }
        let v = value(Record::Stats(end.stats_record()), &mut self.stamp)?;
        self.doc.stats.push(v);
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        let doc = std::mem::take(&mut self.doc);
        serde_json::to_writer_pretty(&mut self.out, &doc).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}
