//! The JSON output contract (ARCHITECTURE.md): serialize-only records, each with its `type`.

use crate::diagnose::Finding;
use crate::go::{GoRequest, GoRole};
use modsniff_core::DnsRecord;
use modsniff_core::{Connection, Stats};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a connection was to the go command.
#[derive(Clone, Debug, Serialize)]
pub struct GoInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<GoRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<crate::go::Endpoint>,
    /// Every Go request seen in clear on this connection (when more than one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<GoRequest>,
}

#[derive(Serialize)]
pub struct ConnectionRecord<'a> {
    #[serde(rename = "type")]
    pub ty: &'static str,
    #[serde(flatten)]
    pub conn: &'a Connection,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub go: Option<GoInfo>,
}

#[derive(Serialize)]
pub struct DnsOut<'a> {
    #[serde(rename = "type")]
    pub ty: &'static str,
    #[serde(flatten)]
    pub rec: &'a DnsRecord,
}

#[derive(Serialize)]
pub struct FindingRecord<'a> {
    #[serde(rename = "type")]
    pub ty: &'static str,
    #[serde(flatten)]
    pub finding: &'a Finding,
}

/// The last record of a run.
#[derive(Serialize)]
pub struct StatsRecord<'a> {
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// The capture file (or interface) this is about.
    pub source: &'a str,
    #[serde(flatten)]
    pub stats: &'a Stats,
    /// Findings by severity.
    pub findings: BTreeMap<&'static str, u64>,
    /// Findings not kept: warnings and infos beyond 8 of one kind per target, or anything past
    /// the cap of 10,000 findings.
    pub findings_dropped: u64,
    /// Names and addresses the diagnosis could not remember (its maps were full): judgements
    /// that needed them were made without. Printed when not zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub diagnosis_tracking_dropped: u64,
    /// Problems reading the input that did not stop the analysis (truncated file, ...).
    pub capture_warnings: Vec<String>,
    /// Go module hosts seen, with how many connections went to each.
    pub go_endpoints: &'a BTreeMap<String, u64>,
    /// The run's verdict: "ok", "warning" or "error".
    pub verdict: &'static str,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
