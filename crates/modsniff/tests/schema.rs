//! The JSON Schema of the output: the committed docs/modsniff.schema.json is what the record
//! types generate (`modsniff schema`), and every record printed for every capture we have
//! validates against it.

use crate::common::*;
use std::path::PathBuf;

fn committed() -> PathBuf {
    root().join("docs/modsniff.schema.json")
}

/// `MODSNIFF_BLESS=1` rewrites the committed file from the types.
#[test]
fn committed_schema_is_what_the_record_types_generate() {
    let out = run(&["schema"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = out.stdout;
    if std::env::var_os("MODSNIFF_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(committed(), &generated).unwrap();
        eprintln!("wrote {}", committed().display());
        return;
    }
    let on_disk = std::fs::read(committed()).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} differs from what `modsniff schema` generates from the record types: \
         review the change, then rerun with MODSNIFF_BLESS=1 to rewrite it",
        committed().display()
    );
}

fn committed_schema() -> serde_json::Value {
    let text = std::fs::read_to_string(committed()).expect("docs/modsniff.schema.json");
    serde_json::from_str(&text).expect("the committed schema is JSON")
}

/// Every NDJSON line (the schema's root) and every `--format json` document (its
/// `$defs.Document`) of every capture under fixtures/ and ../shared's scenarios and public
/// captures validates; each line starts with its `type` and `record_version`.
#[test]
fn every_printed_record_validates_against_the_committed_schema() {
    let schema = committed_schema();
    let records = jsonschema::validator_for(&schema).expect("the schema compiles");
    let document = jsonschema::validator_for(&serde_json::json!({
        "$schema": schema["$schema"],
        "$ref": "#/$defs/Document",
        "$defs": schema["$defs"],
    }))
    .expect("the document schema compiles");

    let mut files = captures(&fixtures());
    match shared_or_skip("the schema on ../shared's scenarios and public captures") {
        Some(s) => {
            let n = files.len();
            files.extend(captures(&s.join("scenarios")));
            files.extend(captures(&s.join("pcaps/public")));
            assert!(files.len() > n, "no captures in {}", s.display());
        }
        None => eprintln!("checking fixtures/ only"),
    }
    let mut failures = Vec::new();
    let mut lines = 0usize;
    let mut by_type = std::collections::BTreeMap::<String, usize>::new();
    for f in &files {
        let path = f.to_str().unwrap();
        let out = run(&["read", "--format", "ndjson", path]);
        let text = String::from_utf8_lossy(&out.stdout);
        for (i, l) in text.lines().enumerate() {
            lines += 1;
            let v: serde_json::Value = match serde_json::from_str(l) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{path}:{}: not JSON: {e}", i + 1));
                    continue;
                }
            };
            let ty = v["type"].as_str().unwrap_or("?").to_string();
            if !l.starts_with(&format!("{{\"type\":\"{ty}\",\"record_version\":1,")) {
                failures.push(format!(
                    "{path}:{}: does not start with its type and record_version",
                    i + 1
                ));
            }
            *by_type.entry(ty).or_default() += 1;
            for e in records.iter_errors(&v) {
                failures.push(format!("{path}:{}: {} at {}", i + 1, e, e.instance_path()));
            }
        }
        let out = run(&["read", "--format", "json", path]);
        if out.stdout.is_empty() {
            continue; // unreadable input: nothing printed
        }
        match serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            Ok(doc) => {
                for e in document.iter_errors(&doc) {
                    failures.push(format!("{path} (json): {} at {}", e, e.instance_path()));
                }
            }
            Err(e) => failures.push(format!("{path} (json): not JSON: {e}")),
        }
    }
    // A validation error quotes the whole record: the first few say enough.
    assert!(
        failures.is_empty(),
        "{} problems in {} captures; the first:\n{}",
        failures.len(),
        files.len(),
        failures
            .iter()
            .take(5)
            .map(|f| f.chars().take(2000).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "{lines} records of {} captures validate: {by_type:?}",
        files.len()
    );
    for ty in ["connection", "dns", "finding", "stats"] {
        assert!(
            by_type.get(ty).is_some_and(|n| *n > 0),
            "no `{ty}` record was checked: {by_type:?}"
        );
    }
}

/// The schema really rejects what breaks the contract (else the test above proves little).
#[test]
fn the_schema_rejects_unknown_missing_and_mistyped_fields() {
    let schema = committed_schema();
    let v = jsonschema::validator_for(&schema).unwrap();
    let f = fixtures().join("public/zeek/http/get.pcap");
    let (_, recs, _) = ndjson(&f, &[]);
    let conn = recs
        .iter()
        .find(|r| r["type"] == "connection")
        .expect("a connection record")
        .clone();
    assert!(v.is_valid(&conn));

    let mut added = conn.clone();
    added["brand_new_field"] = serde_json::json!(1);
    assert!(!v.is_valid(&added));
    let mut nested = conn.clone();
    nested["client_stats"]["extra"] = serde_json::json!(true);
    assert!(!v.is_valid(&nested));
    let mut missing = conn.clone();
    missing.as_object_mut().unwrap().remove("history");
    assert!(!v.is_valid(&missing));
    let mut version = conn.clone();
    version["record_version"] = serde_json::json!(2);
    assert!(!v.is_valid(&version));
    let mut ty = conn.clone();
    ty["type"] = serde_json::json!("dns");
    assert!(!v.is_valid(&ty));
    // A field left out when empty is absent, never null.
    let mut null = conn;
    null["server_name"] = serde_json::Value::Null;
    assert!(!v.is_valid(&null));

    let stats = recs.last().unwrap().clone();
    assert!(v.is_valid(&stats));
    let mut bad = stats;
    bad["verdict"] = serde_json::json!("fine");
    assert!(!v.is_valid(&bad));
}
