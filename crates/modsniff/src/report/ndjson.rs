//! Hand-written JSON for the two records written by the thousand: `connection` and `dns`.
//!
//! serde_json through the `#[serde(flatten)]` wrappers of `wire.rs` was ~30 % of a full
//! analysis (a connection record is ~2.5 KB: every cipher, extension and TLS record note).
//! Here each record is written straight into a byte buffer: keys are literals, integers go
//! through `itoa` and floats through `zmij`, the two crates serde_json 1.0.154 itself calls,
//! and strings are escaped with serde_json's table. The output is byte-for-byte what
//! `serde_json::to_vec(&ConnectionRecord { .. })` gives; the serde derives stay the
//! reference (and serve `--format json`), and the corpus test below compares the two on
//! every record of every capture we have.
//!
//! Every struct is taken apart with an exhaustive pattern (no `..`): a field added to a
//! record type does not compile here until it is written here too, in the derive's order
//! and with its `skip_serializing_if`.

use super::wire::GoInfo;
use crate::go::{Endpoint, GoRequest, GoRole};
use modsniff_core::app::Protocol;
use modsniff_core::app::dns::{DnsAnswer, DnsRecord};
use modsniff_core::app::http::HttpTransaction;
use modsniff_core::app::tls::record::GroupInfo;
use modsniff_core::app::tls::{
    AlertInfo, CertificateInfo, ClientHello, HandshakeNote, NotTls, RecordNote, ServerHello,
    SideSummary, TlsAnomalies, TlsInfo, Validation,
};
use modsniff_core::event::{EndReason, IcmpInfo, ResetInfo, SideStats};
use modsniff_core::flow::{Side, Transport};
use modsniff_core::{Connection, Duration, Timestamp};
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

/// One `connection` line (without the newline), as `ConnectionRecord` serializes.
pub fn connection(o: &mut Vec<u8>, c: &Connection, go: Option<&GoInfo>) {
    let Connection {
        id,
        transport,
        client,
        server,
        server_name,
        state,
        history,
        ts_first,
        ts_last,
        duration,
        end_reason,
        client_by,
        client_stats,
        server_stats,
        handshake_rtt,
        resets,
        icmp,
        app,
        tls,
        http,
        partial,
        overlap_conflicts,
    } = c;
    o.extend_from_slice(b"{\"type\":\"connection\",\"id\":");
    int(o, *id);
    o.extend_from_slice(b",\"transport\":");
    transport_v(o, *transport);
    o.extend_from_slice(b",\"client\":");
    socket(o, client);
    o.extend_from_slice(b",\"server\":");
    socket(o, server);
    if let Some(n) = server_name {
        o.extend_from_slice(b",\"server_name\":");
        string(o, n);
    }
    o.extend_from_slice(b",\"state\":");
    string(o, state);
    o.extend_from_slice(b",\"history\":");
    string(o, history);
    o.extend_from_slice(b",\"ts_first\":");
    ts(o, *ts_first);
    o.extend_from_slice(b",\"ts_last\":");
    ts(o, *ts_last);
    o.extend_from_slice(b",\"duration\":");
    dur(o, *duration);
    o.extend_from_slice(b",\"end_reason\":");
    o.extend_from_slice(match end_reason {
        EndReason::Closed => b"\"closed\"",
        EndReason::Idle => b"\"idle\"",
        EndReason::Evicted => b"\"evicted\"",
        EndReason::EndOfInput => b"\"end_of_input\"",
    });
    o.extend_from_slice(b",\"client_by\":");
    string(o, client_by);
    o.extend_from_slice(b",\"client_stats\":");
    side_stats(o, client_stats);
    o.extend_from_slice(b",\"server_stats\":");
    side_stats(o, server_stats);
    if let Some(rtt) = handshake_rtt {
        o.extend_from_slice(b",\"handshake_rtt\":");
        dur(o, *rtt);
    }
    if !resets.is_empty() {
        o.extend_from_slice(b",\"resets\":");
        array(o, resets, reset);
    }
    if !icmp.is_empty() {
        o.extend_from_slice(b",\"icmp\":");
        array(o, icmp, icmp_info);
    }
    if let Some(p) = app {
        o.extend_from_slice(b",\"app\":");
        o.extend_from_slice(match p {
            Protocol::Tls => b"\"tls\"",
            Protocol::Http => b"\"http\"",
            Protocol::Dns => b"\"dns\"",
        });
    }
    if let Some(t) = tls {
        o.extend_from_slice(b",\"tls\":");
        tls_info(o, t);
    }
    if !http.is_empty() {
        o.extend_from_slice(b",\"http\":");
        array(o, http, http_tx);
    }
    if !partial.is_empty() {
        o.extend_from_slice(b",\"partial\":");
        array(o, partial, |o, s| string(o, s));
    }
    if *overlap_conflicts != 0 {
        o.extend_from_slice(b",\"overlap_conflicts\":");
        int(o, *overlap_conflicts);
    }
    if let Some(g) = go {
        o.extend_from_slice(b",\"go\":");
        go_info(o, g);
    }
    o.push(b'}');
}

/// One `dns` line (without the newline), as `DnsOut` serializes.
pub fn dns(o: &mut Vec<u8>, r: &DnsRecord) {
    let DnsRecord {
        id,
        client,
        server,
        qname,
        qtype,
        rcode,
        rcode_code,
        answers,
        transport,
        query_frame,
        response_frame,
        ts: when,
        rtt,
        retransmissions,
        conn_id,
        truncated,
    } = r;
    o.extend_from_slice(b"{\"type\":\"dns\",\"id\":");
    int(o, *id);
    o.extend_from_slice(b",\"client\":");
    socket(o, client);
    o.extend_from_slice(b",\"server\":");
    socket(o, server);
    o.extend_from_slice(b",\"qname\":");
    opt_string(o, qname.as_deref());
    o.extend_from_slice(b",\"qtype\":");
    opt_string(o, qtype.as_deref());
    o.extend_from_slice(b",\"rcode_name\":");
    opt_string(o, rcode.as_deref());
    o.extend_from_slice(b",\"rcode\":");
    opt(o, *rcode_code, |o, c| int(o, c.0));
    o.extend_from_slice(b",\"answers\":");
    array(o, answers, dns_answer);
    o.extend_from_slice(b",\"transport\":");
    transport_v(o, *transport);
    o.extend_from_slice(b",\"query_frame\":");
    opt(o, *query_frame, int);
    o.extend_from_slice(b",\"response_frame\":");
    opt(o, *response_frame, int);
    o.extend_from_slice(b",\"ts\":");
    ts(o, *when);
    o.extend_from_slice(b",\"rtt\":");
    opt(o, *rtt, dur);
    o.extend_from_slice(b",\"retransmissions\":");
    int(o, *retransmissions);
    o.extend_from_slice(b",\"conn_id\":");
    int(o, *conn_id);
    if *truncated {
        o.extend_from_slice(b",\"truncated\":true");
    }
    o.push(b'}');
}

fn dns_answer(o: &mut Vec<u8>, a: &DnsAnswer) {
    let DnsAnswer {
        name,
        rtype,
        ttl,
        data,
    } = a;
    o.extend_from_slice(b"{\"name\":");
    string(o, name);
    o.extend_from_slice(b",\"type\":");
    name_or_number(o, rtype.name(), rtype.0);
    o.extend_from_slice(b",\"ttl\":");
    int(o, *ttl);
    o.extend_from_slice(b",\"data\":");
    opt_string(o, data.as_deref());
    o.push(b'}');
}

/// A wire code point by its name where known, else as a bare number: how the open newtypes
/// serialize (`impl Serialize for DnsType`, `for ContentType`).
fn name_or_number<I: itoa::Integer>(o: &mut Vec<u8>, name: Option<&str>, n: I) {
    match name {
        Some(name) => string(o, name),
        None => int(o, n),
    }
}

fn side_stats(o: &mut Vec<u8>, s: &SideStats) {
    let SideStats {
        packets,
        bytes,
        ts_first,
        ts_last,
        ttl_min,
        ttl_max,
        ip_id_last,
        syn_frames,
        first_data_frame,
        last_data_frame,
        last_data_ts,
        fin_frame,
        peer_data_unacked: _,
        fin_ts: _,
        last_data_while_peer_open: _,
        retransmissions,
        out_of_order,
        lost_segments,
        dup_acks,
        zero_windows,
        missed_bytes,
        window_scale,
    } = s;
    o.extend_from_slice(b"{\"packets\":");
    int(o, *packets);
    o.extend_from_slice(b",\"bytes\":");
    int(o, *bytes);
    if let Some(t) = ts_first {
        o.extend_from_slice(b",\"ts_first\":");
        ts(o, *t);
    }
    if let Some(t) = ts_last {
        o.extend_from_slice(b",\"ts_last\":");
        ts(o, *t);
    }
    if let Some(v) = ttl_min {
        o.extend_from_slice(b",\"ttl_min\":");
        int(o, *v);
    }
    if let Some(v) = ttl_max {
        o.extend_from_slice(b",\"ttl_max\":");
        int(o, *v);
    }
    if let Some(v) = ip_id_last {
        o.extend_from_slice(b",\"ip_id_last\":");
        int(o, *v);
    }
    if !syn_frames.is_empty() {
        o.extend_from_slice(b",\"syn_frames\":");
        array(o, syn_frames, |o, f| int(o, *f));
    }
    if let Some(v) = first_data_frame {
        o.extend_from_slice(b",\"first_data_frame\":");
        int(o, *v);
    }
    if let Some(v) = last_data_frame {
        o.extend_from_slice(b",\"last_data_frame\":");
        int(o, *v);
    }
    if let Some(t) = last_data_ts {
        o.extend_from_slice(b",\"last_data_ts\":");
        ts(o, *t);
    }
    if let Some(v) = fin_frame {
        o.extend_from_slice(b",\"fin_frame\":");
        int(o, *v);
    }
    o.extend_from_slice(b",\"retransmissions\":");
    int(o, *retransmissions);
    o.extend_from_slice(b",\"out_of_order\":");
    int(o, *out_of_order);
    o.extend_from_slice(b",\"lost_segments\":");
    int(o, *lost_segments);
    o.extend_from_slice(b",\"dup_acks\":");
    int(o, *dup_acks);
    o.extend_from_slice(b",\"zero_windows\":");
    int(o, *zero_windows);
    o.extend_from_slice(b",\"missed_bytes\":");
    int(o, *missed_bytes);
    if let Some(v) = window_scale {
        o.extend_from_slice(b",\"window_scale\":");
        int(o, *v);
    }
    o.push(b'}');
}

fn reset(o: &mut Vec<u8>, r: &ResetInfo) {
    let ResetInfo {
        packet,
        ts: when,
        from,
        ttl,
        ip_id,
        seq,
        ack,
        after_bytes,
        with_unacked_data,
    } = r;
    o.extend_from_slice(b"{\"packet\":");
    int(o, *packet);
    o.extend_from_slice(b",\"ts\":");
    ts(o, *when);
    o.extend_from_slice(b",\"from\":");
    side(o, *from);
    o.extend_from_slice(b",\"ttl\":");
    int(o, *ttl);
    if let Some(v) = ip_id {
        o.extend_from_slice(b",\"ip_id\":");
        int(o, *v);
    }
    o.extend_from_slice(b",\"seq\":");
    int(o, *seq);
    o.extend_from_slice(b",\"ack\":");
    int(o, *ack);
    o.extend_from_slice(b",\"after_bytes\":");
    int(o, *after_bytes);
    o.extend_from_slice(b",\"with_unacked_data\":");
    boolean(o, *with_unacked_data);
    o.push(b'}');
}

fn icmp_info(o: &mut Vec<u8>, i: &IcmpInfo) {
    let IcmpInfo {
        packet,
        ts: when,
        from,
        v6,
        icmp_type,
        code,
        ttl,
    } = i;
    o.extend_from_slice(b"{\"packet\":");
    int(o, *packet);
    o.extend_from_slice(b",\"ts\":");
    ts(o, *when);
    o.extend_from_slice(b",\"from\":");
    ip(o, from);
    o.extend_from_slice(b",\"v6\":");
    boolean(o, *v6);
    o.extend_from_slice(b",\"icmp_type\":");
    int(o, *icmp_type);
    o.extend_from_slice(b",\"code\":");
    int(o, *code);
    o.extend_from_slice(b",\"ttl\":");
    int(o, *ttl);
    o.push(b'}');
}

fn tls_info(o: &mut Vec<u8>, t: &TlsInfo) {
    let TlsInfo {
        client_hello,
        client_hello_retry,
        extra_client_hellos,
        hello_retry_request,
        server_hello,
        certificates,
        certificate_frame,
        client_certificates,
        validation,
        valid_only_via_ca_file,
        alerts,
        client,
        server,
        sslv2_client_hello_frame,
        anomalies,
    } = t;
    o.extend_from_slice(b"{\"client_hello\":");
    opt(o, client_hello.as_ref(), client_hello_v);
    o.extend_from_slice(b",\"client_hello_retry\":");
    opt(o, client_hello_retry.as_ref(), client_hello_v);
    o.extend_from_slice(b",\"extra_client_hellos\":");
    int(o, *extra_client_hellos);
    o.extend_from_slice(b",\"hello_retry_request\":");
    opt(o, hello_retry_request.as_ref(), server_hello_v);
    o.extend_from_slice(b",\"server_hello\":");
    opt(o, server_hello.as_ref(), server_hello_v);
    o.extend_from_slice(b",\"certificates\":");
    array(o, certificates, certificate);
    o.extend_from_slice(b",\"certificate_frame\":");
    opt(o, *certificate_frame, int);
    o.extend_from_slice(b",\"client_certificates\":");
    array(o, client_certificates, certificate);
    o.extend_from_slice(b",\"validation\":");
    opt(o, validation.as_ref(), validation_v);
    if *valid_only_via_ca_file {
        o.extend_from_slice(b",\"valid_only_via_ca_file\":true");
    }
    o.extend_from_slice(b",\"alerts\":");
    array(o, alerts, alert);
    o.extend_from_slice(b",\"client\":");
    side_summary(o, client);
    o.extend_from_slice(b",\"server\":");
    side_summary(o, server);
    o.extend_from_slice(b",\"sslv2_client_hello_frame\":");
    opt(o, *sslv2_client_hello_frame, int);
    o.extend_from_slice(b",\"anomalies\":");
    tls_anomalies(o, anomalies);
    o.push(b'}');
}

fn client_hello_v(o: &mut Vec<u8>, c: &ClientHello) {
    let ClientHello {
        sni,
        alpn,
        versions,
        legacy_version,
        cipher_suites,
        extensions,
        groups,
        key_share,
        ec_point_formats,
        signature_algorithms,
        session_id_len,
        psk,
        session_ticket,
        ech,
        early_data,
        grease,
        handshake_length,
        tcp_segments,
        records,
        first_frame,
        last_frame,
        ts: when,
        pq_key_share,
        ja3_string,
        ja3,
        ja4,
        ja4_r,
        extensions_truncated,
    } = c;
    o.extend_from_slice(b"{\"sni\":");
    opt_string(o, sni.as_deref());
    o.extend_from_slice(b",\"alpn\":");
    array(o, alpn, |o, s| string(o, s));
    o.extend_from_slice(b",\"versions\":");
    array(o, versions, |o, v| hex16(o, v.0));
    o.extend_from_slice(b",\"legacy_version\":");
    hex16(o, legacy_version.0);
    o.extend_from_slice(b",\"cipher_suites\":");
    array(o, cipher_suites, |o, v| hex16(o, v.0));
    o.extend_from_slice(b",\"extensions\":");
    array(o, extensions, |o, v| hex16(o, v.0));
    o.extend_from_slice(b",\"groups\":");
    array(o, groups, group);
    o.extend_from_slice(b",\"key_share\":");
    array(o, key_share, group);
    o.extend_from_slice(b",\"ec_point_formats\":");
    array(o, ec_point_formats, |o, v| int(o, *v));
    o.extend_from_slice(b",\"signature_algorithms\":");
    array(o, signature_algorithms, |o, v| hex16(o, v.0));
    o.extend_from_slice(b",\"session_id_len\":");
    int(o, *session_id_len);
    o.extend_from_slice(b",\"psk\":");
    boolean(o, *psk);
    o.extend_from_slice(b",\"session_ticket\":");
    boolean(o, *session_ticket);
    o.extend_from_slice(b",\"ech\":");
    boolean(o, *ech);
    o.extend_from_slice(b",\"early_data\":");
    boolean(o, *early_data);
    o.extend_from_slice(b",\"grease\":");
    boolean(o, *grease);
    o.extend_from_slice(b",\"handshake_length\":");
    int(o, *handshake_length);
    o.extend_from_slice(b",\"tcp_segments\":");
    int(o, *tcp_segments);
    o.extend_from_slice(b",\"records\":");
    int(o, *records);
    o.extend_from_slice(b",\"first_frame\":");
    int(o, *first_frame);
    o.extend_from_slice(b",\"last_frame\":");
    int(o, *last_frame);
    o.extend_from_slice(b",\"ts\":");
    ts(o, *when);
    o.extend_from_slice(b",\"pq_key_share\":");
    boolean(o, *pq_key_share);
    o.extend_from_slice(b",\"ja3_string\":");
    string(o, ja3_string);
    o.extend_from_slice(b",\"ja3\":");
    string(o, ja3);
    o.extend_from_slice(b",\"ja4\":");
    string(o, ja4);
    o.extend_from_slice(b",\"ja4_r\":");
    string(o, ja4_r);
    o.extend_from_slice(b",\"extensions_truncated\":");
    boolean(o, *extensions_truncated);
    o.push(b'}');
}

fn server_hello_v(o: &mut Vec<u8>, s: &ServerHello) {
    let ServerHello {
        version,
        version_name,
        legacy_version,
        supported_version,
        cipher,
        cipher_name,
        extensions,
        alpn,
        key_share,
        hello_retry_request,
        session_id_len,
        ja3s_string,
        ja3s,
        first_frame,
        last_frame,
        ts: when,
        tcp_segments,
        records,
    } = s;
    o.extend_from_slice(b"{\"version\":");
    hex16(o, version.0);
    o.extend_from_slice(b",\"version_name\":");
    opt_string(o, version_name.as_deref());
    o.extend_from_slice(b",\"legacy_version\":");
    hex16(o, legacy_version.0);
    o.extend_from_slice(b",\"supported_version\":");
    opt(o, *supported_version, |o, v| hex16(o, v.0));
    o.extend_from_slice(b",\"cipher\":");
    hex16(o, cipher.0);
    o.extend_from_slice(b",\"cipher_name\":");
    opt_string(o, *cipher_name);
    o.extend_from_slice(b",\"extensions\":");
    array(o, extensions, |o, v| hex16(o, v.0));
    o.extend_from_slice(b",\"alpn\":");
    opt_string(o, alpn.as_deref());
    o.extend_from_slice(b",\"key_share\":");
    opt(o, key_share.as_ref(), group);
    o.extend_from_slice(b",\"hello_retry_request\":");
    boolean(o, *hello_retry_request);
    o.extend_from_slice(b",\"session_id_len\":");
    int(o, *session_id_len);
    o.extend_from_slice(b",\"ja3s_string\":");
    string(o, ja3s_string);
    o.extend_from_slice(b",\"ja3s\":");
    string(o, ja3s);
    o.extend_from_slice(b",\"first_frame\":");
    int(o, *first_frame);
    o.extend_from_slice(b",\"last_frame\":");
    int(o, *last_frame);
    o.extend_from_slice(b",\"ts\":");
    ts(o, *when);
    o.extend_from_slice(b",\"tcp_segments\":");
    int(o, *tcp_segments);
    o.extend_from_slice(b",\"records\":");
    int(o, *records);
    o.push(b'}');
}

fn group(o: &mut Vec<u8>, g: &GroupInfo) {
    let GroupInfo { id, name } = g;
    o.extend_from_slice(b"{\"id\":");
    hex16(o, id.0);
    o.extend_from_slice(b",\"name\":");
    opt_string(o, *name);
    o.push(b'}');
}

fn certificate(o: &mut Vec<u8>, c: &CertificateInfo) {
    let CertificateInfo {
        index,
        subject,
        issuer,
        subject_cn,
        issuer_cn,
        san,
        san_ip: _,
        has_san: _,
        not_before,
        not_after,
        not_before_unix,
        not_after_unix,
        serial,
        sha256,
        spki_sha256,
        is_ca,
        self_issued,
        der_len,
        parse_error,
    } = c;
    o.extend_from_slice(b"{\"index\":");
    int(o, *index);
    o.extend_from_slice(b",\"subject\":");
    string(o, subject);
    o.extend_from_slice(b",\"issuer\":");
    string(o, issuer);
    o.extend_from_slice(b",\"subject_cn\":");
    opt_string(o, subject_cn.as_deref());
    o.extend_from_slice(b",\"issuer_cn\":");
    opt_string(o, issuer_cn.as_deref());
    o.extend_from_slice(b",\"san\":");
    array(o, san, |o, s| string(o, s));
    o.extend_from_slice(b",\"not_before\":");
    opt_string(o, not_before.as_deref());
    o.extend_from_slice(b",\"not_after\":");
    opt_string(o, not_after.as_deref());
    o.extend_from_slice(b",\"not_before_unix\":");
    opt(o, *not_before_unix, int);
    o.extend_from_slice(b",\"not_after_unix\":");
    opt(o, *not_after_unix, int);
    o.extend_from_slice(b",\"serial\":");
    string(o, serial);
    o.extend_from_slice(b",\"sha256\":");
    string(o, sha256);
    o.extend_from_slice(b",\"spki_sha256\":");
    opt_string(o, spki_sha256.as_deref());
    o.extend_from_slice(b",\"is_ca\":");
    boolean(o, *is_ca);
    o.extend_from_slice(b",\"self_issued\":");
    boolean(o, *self_issued);
    o.extend_from_slice(b",\"der_len\":");
    int(o, *der_len);
    o.extend_from_slice(b",\"parse_error\":");
    opt_string(o, parse_error.as_deref());
    o.push(b'}');
}

/// Adjacently tagged (`tag = "result", content = "error"`, kebab-case): a unit variant is
/// the tag alone.
fn validation_v(o: &mut Vec<u8>, v: &Validation) {
    let tag: &[u8] = match v {
        Validation::Valid => b"{\"result\":\"valid\"}",
        Validation::UnknownIssuer => b"{\"result\":\"unknown-issuer\"}",
        Validation::Expired => b"{\"result\":\"expired\"}",
        Validation::NotYetValid => b"{\"result\":\"not-yet-valid\"}",
        Validation::NameMismatch => b"{\"result\":\"name-mismatch\"}",
        Validation::SelfSigned => b"{\"result\":\"self-signed\"}",
        Validation::Other(e) => {
            o.extend_from_slice(b"{\"result\":\"other\",\"error\":");
            string(o, e);
            o.push(b'}');
            return;
        }
    };
    o.extend_from_slice(tag);
}

fn alert(o: &mut Vec<u8>, a: &AlertInfo) {
    let AlertInfo {
        side: from,
        frame,
        ts: when,
        encrypted,
        level,
        description,
        description_name,
        record_length,
    } = a;
    o.extend_from_slice(b"{\"side\":");
    side(o, *from);
    o.extend_from_slice(b",\"frame\":");
    int(o, *frame);
    o.extend_from_slice(b",\"ts\":");
    ts(o, *when);
    o.extend_from_slice(b",\"encrypted\":");
    boolean(o, *encrypted);
    o.extend_from_slice(b",\"level\":");
    opt(o, *level, int);
    o.extend_from_slice(b",\"description\":");
    opt(o, *description, int);
    o.extend_from_slice(b",\"description_name\":");
    opt_string(o, *description_name);
    o.extend_from_slice(b",\"record_length\":");
    int(o, *record_length);
    o.push(b'}');
}

fn side_summary(o: &mut Vec<u8>, s: &SideSummary) {
    let SideSummary {
        records,
        change_cipher_spec,
        change_cipher_spec_frame,
        handshake_messages,
        records_after_hello,
        records_after_hello_count,
        records_after_hello_bytes,
        first_encrypted,
        last_record,
        gave_up,
        not_tls,
    } = s;
    o.extend_from_slice(b"{\"records\":");
    int(o, *records);
    o.extend_from_slice(b",\"change_cipher_spec\":");
    boolean(o, *change_cipher_spec);
    o.extend_from_slice(b",\"change_cipher_spec_frame\":");
    opt(o, *change_cipher_spec_frame, int);
    o.extend_from_slice(b",\"handshake_messages\":");
    array(o, handshake_messages, handshake_note);
    o.extend_from_slice(b",\"records_after_hello\":");
    array(o, records_after_hello, record_note);
    o.extend_from_slice(b",\"records_after_hello_count\":");
    int(o, *records_after_hello_count);
    o.extend_from_slice(b",\"records_after_hello_bytes\":");
    int(o, *records_after_hello_bytes);
    o.extend_from_slice(b",\"first_encrypted\":");
    opt(o, first_encrypted.as_ref(), record_note);
    o.extend_from_slice(b",\"last_record\":");
    opt(o, last_record.as_ref(), record_note);
    o.extend_from_slice(b",\"gave_up\":");
    boolean(o, *gave_up);
    o.extend_from_slice(b",\"not_tls\":");
    opt(o, not_tls.as_ref(), |o, n| {
        let NotTls { frame, prefix } = n;
        o.extend_from_slice(b"{\"frame\":");
        int(o, *frame);
        o.extend_from_slice(b",\"prefix\":");
        string(o, prefix);
        o.push(b'}');
    });
    o.push(b'}');
}

fn handshake_note(o: &mut Vec<u8>, h: &HandshakeNote) {
    let HandshakeNote {
        msg_type,
        length,
        frame,
    } = h;
    o.extend_from_slice(b"{\"msg_type\":");
    int(o, *msg_type);
    o.extend_from_slice(b",\"length\":");
    int(o, *length);
    o.extend_from_slice(b",\"frame\":");
    int(o, *frame);
    o.push(b'}');
}

fn record_note(o: &mut Vec<u8>, r: &RecordNote) {
    let RecordNote {
        frame,
        ts: when,
        content_type,
        length,
        encrypted,
    } = r;
    o.extend_from_slice(b"{\"frame\":");
    int(o, *frame);
    o.extend_from_slice(b",\"ts\":");
    ts(o, *when);
    o.extend_from_slice(b",\"content_type\":");
    name_or_number(o, content_type.name(), content_type.0);
    o.extend_from_slice(b",\"length\":");
    int(o, *length);
    o.extend_from_slice(b",\"encrypted\":");
    boolean(o, *encrypted);
    o.push(b'}');
}

fn tls_anomalies(o: &mut Vec<u8>, a: &TlsAnomalies) {
    let TlsAnomalies {
        bad_record_headers,
        gaps,
        gap_bytes,
        resyncs,
        sides_given_up,
        dropped_handshake_messages,
        dropped_handshake_bytes,
        dropped_certificates,
        dropped_alerts,
        malformed_messages,
        unexpected_messages,
        truncated_at_end,
    } = a;
    o.extend_from_slice(b"{\"bad_record_headers\":");
    int(o, *bad_record_headers);
    o.extend_from_slice(b",\"gaps\":");
    int(o, *gaps);
    o.extend_from_slice(b",\"gap_bytes\":");
    int(o, *gap_bytes);
    o.extend_from_slice(b",\"resyncs\":");
    int(o, *resyncs);
    o.extend_from_slice(b",\"sides_given_up\":");
    int(o, *sides_given_up);
    o.extend_from_slice(b",\"dropped_handshake_messages\":");
    int(o, *dropped_handshake_messages);
    o.extend_from_slice(b",\"dropped_handshake_bytes\":");
    int(o, *dropped_handshake_bytes);
    o.extend_from_slice(b",\"dropped_certificates\":");
    int(o, *dropped_certificates);
    o.extend_from_slice(b",\"dropped_alerts\":");
    int(o, *dropped_alerts);
    o.extend_from_slice(b",\"malformed_messages\":");
    int(o, *malformed_messages);
    o.extend_from_slice(b",\"unexpected_messages\":");
    int(o, *unexpected_messages);
    o.extend_from_slice(b",\"truncated_at_end\":");
    int(o, *truncated_at_end);
    o.push(b'}');
}

fn http_tx(o: &mut Vec<u8>, h: &HttpTransaction) {
    let HttpTransaction {
        method,
        uri,
        host,
        status,
        version,
        user_agent,
        proxy_authorization,
        range,
        request_frame,
        request_ts,
        reason,
        response_version,
        informational,
        content_length,
        content_type,
        chunked,
        proxy_authenticate,
        via,
        server,
        location,
        content_range,
        response_frame,
        response_ts,
        body_bytes,
        body_missing,
        body_complete,
    } = h;
    o.extend_from_slice(b"{\"method\":");
    opt_string(o, method.as_deref());
    o.extend_from_slice(b",\"uri\":");
    opt_string(o, uri.as_deref());
    o.extend_from_slice(b",\"host\":");
    opt_string(o, host.as_deref());
    o.extend_from_slice(b",\"status\":");
    opt(o, *status, int);
    // The rest are all skipped when empty.
    key_str(o, b",\"version\":", *version);
    key_str(o, b",\"user_agent\":", user_agent.as_deref());
    if *proxy_authorization {
        o.extend_from_slice(b",\"proxy_authorization\":true");
    }
    key_str(o, b",\"range\":", range.as_deref());
    if let Some(v) = request_frame {
        o.extend_from_slice(b",\"request_frame\":");
        int(o, *v);
    }
    if let Some(t) = request_ts {
        o.extend_from_slice(b",\"request_ts\":");
        ts(o, *t);
    }
    key_str(o, b",\"reason\":", reason.as_deref());
    key_str(o, b",\"response_version\":", *response_version);
    if !informational.is_empty() {
        o.extend_from_slice(b",\"informational\":");
        array(o, informational, |o, v| int(o, *v));
    }
    if let Some(v) = content_length {
        o.extend_from_slice(b",\"content_length\":");
        int(o, *v);
    }
    key_str(o, b",\"content_type\":", content_type.as_deref());
    if *chunked {
        o.extend_from_slice(b",\"chunked\":true");
    }
    key_str(
        o,
        b",\"proxy_authenticate\":",
        proxy_authenticate.as_deref(),
    );
    key_str(o, b",\"via\":", via.as_deref());
    key_str(o, b",\"server\":", server.as_deref());
    key_str(o, b",\"location\":", location.as_deref());
    key_str(o, b",\"content_range\":", content_range.as_deref());
    if let Some(v) = response_frame {
        o.extend_from_slice(b",\"response_frame\":");
        int(o, *v);
    }
    if let Some(t) = response_ts {
        o.extend_from_slice(b",\"response_ts\":");
        ts(o, *t);
    }
    if let Some(v) = body_bytes {
        o.extend_from_slice(b",\"body_bytes\":");
        int(o, *v);
    }
    if *body_missing != 0 {
        o.extend_from_slice(b",\"body_missing\":");
        int(o, *body_missing);
    }
    if let Some(b) = body_complete {
        o.extend_from_slice(b",\"body_complete\":");
        boolean(o, *b);
    }
    o.push(b'}');
}

/// `key` and the string, when there is one (`skip_serializing_if = "Option::is_none"`).
fn key_str(o: &mut Vec<u8>, key: &[u8], v: Option<&str>) {
    if let Some(s) = v {
        o.extend_from_slice(key);
        string(o, s);
    }
}

/// Every field of `GoInfo` may be skipped, so the commas are counted.
fn go_info(o: &mut Vec<u8>, g: &GoInfo) {
    let GoInfo {
        role,
        module,
        version,
        endpoint,
        requests,
    } = g;
    let mut obj = Obj::open(o);
    if let Some(r) = role {
        obj.key(b"role").extend_from_slice(match r {
            GoRole::ModuleProxy => b"\"module-proxy\"",
            GoRole::ChecksumDb => b"\"checksum-db\"",
            GoRole::Vcs => b"\"vcs\"",
            GoRole::HttpProxy => b"\"http-proxy\"",
        });
    }
    if let Some(m) = module {
        string(obj.key(b"module"), m);
    }
    if let Some(v) = version {
        string(obj.key(b"version"), v);
    }
    if let Some(e) = endpoint {
        endpoint_v(obj.key(b"endpoint"), e);
    }
    if !requests.is_empty() {
        array(obj.key(b"requests"), requests, go_request);
    }
    obj.close();
}

fn go_request(o: &mut Vec<u8>, r: &GoRequest) {
    let GoRequest {
        module,
        version,
        endpoint,
    } = r;
    let mut obj = Obj::open(o);
    if let Some(m) = module {
        string(obj.key(b"module"), m);
    }
    if let Some(v) = version {
        string(obj.key(b"version"), v);
    }
    endpoint_v(obj.key(b"endpoint"), endpoint);
    obj.close();
}

fn endpoint_v(o: &mut Vec<u8>, e: &Endpoint) {
    o.extend_from_slice(match e {
        Endpoint::List => b"\"list\"",
        Endpoint::Info => b"\"info\"",
        Endpoint::Mod => b"\"mod\"",
        Endpoint::Zip => b"\"zip\"",
        Endpoint::Latest => b"\"latest\"",
        Endpoint::SumdbLookup => b"\"sumdb-lookup\"",
        Endpoint::SumdbTile => b"\"sumdb-tile\"",
        Endpoint::SumdbLatest => b"\"sumdb-latest\"",
        Endpoint::SumdbSupported => b"\"sumdb-supported\"",
        Endpoint::GoGet => b"\"go-get\"",
        Endpoint::GitSmartHttp => b"\"git-smart-http\"",
    });
}

/// An object whose fields may all be skipped: writes the comma before every key but the first.
struct Obj<'a> {
    o: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(o: &'a mut Vec<u8>) -> Self {
        o.push(b'{');
        Obj { o, first: true }
    }
    /// Writes `"key":` and returns the buffer for the value.
    fn key(&mut self, k: &[u8]) -> &mut Vec<u8> {
        if !self.first {
            self.o.push(b',');
        }
        self.first = false;
        self.o.push(b'"');
        self.o.extend_from_slice(k);
        self.o.extend_from_slice(b"\":");
        self.o
    }
    fn close(self) {
        self.o.push(b'}');
    }
}

// ---- values -------------------------------------------------------------------------------

fn transport_v(o: &mut Vec<u8>, t: Transport) {
    o.extend_from_slice(match t {
        Transport::Tcp => b"\"tcp\"",
        Transport::Udp => b"\"udp\"",
    });
}

fn side(o: &mut Vec<u8>, s: Side) {
    o.extend_from_slice(match s {
        Side::Client => b"\"client\"",
        Side::Server => b"\"server\"",
    });
}

fn boolean(o: &mut Vec<u8>, b: bool) {
    o.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Integers as serde_json writes them (it calls `itoa` too).
fn int<I: itoa::Integer>(o: &mut Vec<u8>, v: I) {
    o.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn opt<T>(o: &mut Vec<u8>, v: Option<T>, f: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        Some(v) => f(o, v),
        None => o.extend_from_slice(b"null"),
    }
}

fn opt_string(o: &mut Vec<u8>, v: Option<&str>) {
    opt(o, v, string);
}

fn array<T>(o: &mut Vec<u8>, items: &[T], mut f: impl FnMut(&mut Vec<u8>, &T)) {
    o.push(b'[');
    let mut rest = items.iter();
    if let Some(first) = rest.next() {
        f(o, first);
        for it in rest {
            o.push(b',');
            f(o, it);
        }
    }
    o.push(b']');
}

/// Below 2^33 s (the year 2242) a double's spacing is under a microsecond.
const EXACT_MICROS_BELOW_SECS: u64 = 1 << 33;

/// `Timestamp`'s and `Duration`'s `Serialize`: seconds with microsecond precision, as the f64
/// `micros / 1e6`, which zmij prints as the shortest decimal that reads back as it (fixed
/// notation from 1e-5 to 1e16, else `5e-6`). Below 2^33 s the digits are made from the
/// integers instead: the division is correctly rounded and doubles there are closer than
/// 1e-6, so that shortest decimal is `secs.micros` with the trailing zeros cut (`secs.0` for
/// a whole number, `Ne-6` below 1e-5). Beyond, zmij. Sweeps and proptests below hold the
/// two to the same bytes.
fn secs(o: &mut Vec<u8>, nanos: u64) {
    let micros = nanos / 1000;
    let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
    if whole >= EXACT_MICROS_BELOW_SECS {
        float(o, micros as f64 / 1e6);
        return;
    }
    if whole == 0 && frac < 10 {
        // frac < 10: the cast cannot truncate.
        let small = [b'0' + frac as u8, b'e', b'-', b'6'];
        o.extend_from_slice(if frac == 0 { b"0.0" } else { &small });
        return;
    }
    int(o, whole);
    if frac == 0 {
        o.extend_from_slice(b".0");
        return;
    }
    let mut digits = [b'.', b'0', b'0', b'0', b'0', b'0', b'0'];
    let mut f = frac;
    for d in digits.iter_mut().skip(1).rev() {
        // f % 10 < 10: the cast cannot truncate.
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    // frac != 0: at most 5 trailing zeros, so at least one digit is kept.
    let mut kept = digits.len();
    while kept > 2 && digits.get(kept - 1) == Some(&b'0') {
        kept -= 1;
    }
    o.extend_from_slice(digits.get(..kept).unwrap_or(&digits));
}

fn ts(o: &mut Vec<u8>, t: Timestamp) {
    secs(o, t.as_nanos());
}

fn dur(o: &mut Vec<u8>, d: Duration) {
    secs(o, d.as_nanos());
}

/// serde_json's `serialize_f64`: `null` for NaN and infinities, else `zmij`'s shortest form
/// (`5e-6`, `1795389452.253`, `0.0`).
fn float(o: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        o.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        o.extend_from_slice(b"null");
    }
}

/// A code point as `"0x%04x"` (`ser_hex16` in core's tls::record).
fn hex16(o: &mut Vec<u8>, v: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = |shift: u16| HEX[usize::from((v >> shift) & 0xf)];
    o.extend_from_slice(&[b'"', b'0', b'x', d(12), d(8), d(4), d(0), b'"']);
}

/// `Display`, as serde's `SocketAddr` impl writes it; nothing in it needs escaping.
fn socket(o: &mut Vec<u8>, a: &SocketAddr) {
    o.push(b'"');
    match a {
        SocketAddr::V4(v4) => {
            ipv4(o, v4.ip().octets());
            o.push(b':');
            int(o, v4.port());
        }
        // Writing into a Vec cannot fail.
        SocketAddr::V6(v6) => {
            let _ = write!(o, "{v6}");
        }
    }
    o.push(b'"');
}

fn ip(o: &mut Vec<u8>, a: &IpAddr) {
    o.push(b'"');
    match a {
        IpAddr::V4(v4) => ipv4(o, v4.octets()),
        IpAddr::V6(v6) => {
            let _ = write!(o, "{v6}");
        }
    }
    o.push(b'"');
}

fn ipv4(o: &mut Vec<u8>, [a, b, c, d]: [u8; 4]) {
    int(o, a);
    o.push(b'.');
    int(o, b);
    o.push(b'.');
    int(o, c);
    o.push(b'.');
    int(o, d);
}

/// serde_json's escape table: `b'x'` means the byte is written `\x`, `b'u'` means `\u00XX`,
/// 0 means as is (everything from 0x20 up but `"` and `\`, DEL and non-ASCII included).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Some byte of `w` is below 0x20, `"` or `\\`. Each term is the "has a byte below n"
/// trick (`(x - n*ONES) & !x & HIGH`); a borrow can only make bytes above a real hit look
/// like hits, so "any" is exact.
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let hits = (w.wrapping_sub(ONES * 0x20) & !w)
        | (quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash);
    hits & HIGH != 0
}

/// A JSON string exactly as serde_json escapes it: runs of plain bytes are copied whole, and
/// found eight bytes at a time (JA3/JA4 strings, names and histories rarely need escaping).
pub fn string(o: &mut Vec<u8>, s: &str) {
    o.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(w) = bytes
            .get(i..i + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            && !word_needs_escape(u64::from_le_bytes(w))
        {
            i += 8;
            continue;
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let b = bytes.get(i).copied().unwrap_or_default();
            i += 1;
            let esc = ESCAPE[usize::from(b)];
            if esc == 0 {
                continue;
            }
            o.extend_from_slice(bytes.get(start..i - 1).unwrap_or_default());
            start = i;
            if esc == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                o.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
            } else {
                o.extend_from_slice(&[b'\\', esc]);
            }
        }
    }
    o.extend_from_slice(bytes.get(start..).unwrap_or_default());
    o.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Analysis, go_info as go_of, read_pem_certs};
    use crate::go::GoSettings;
    use crate::report::wire::{ConnectionRecord, DnsOut};
    use modsniff_core::Config;
    use modsniff_core::app::dns::DnsType;
    use modsniff_core::app::tls::ContentType;
    use modsniff_core::event::Event;
    use proptest::prelude::*;
    use std::path::{Path, PathBuf};

    fn serde_conn(c: &Connection, go: Option<&GoInfo>) -> Vec<u8> {
        serde_json::to_vec(&ConnectionRecord {
            ty: "connection",
            conn: c,
            go: go.cloned(),
        })
        .unwrap()
    }

    fn mine_conn(c: &Connection, go: Option<&GoInfo>) -> Vec<u8> {
        let mut v = Vec::new();
        connection(&mut v, c, go);
        v
    }

    fn serde_dns(r: &DnsRecord) -> Vec<u8> {
        serde_json::to_vec(&DnsOut { ty: "dns", rec: r }).unwrap()
    }

    fn mine_dns(r: &DnsRecord) -> Vec<u8> {
        let mut v = Vec::new();
        dns(&mut v, r);
        v
    }

    /// Panics with the first differing byte and both texts around it.
    fn assert_same(what: &str, mine: &[u8], reference: &[u8]) {
        if mine == reference {
            return;
        }
        let at = mine
            .iter()
            .zip(reference)
            .position(|(a, b)| a != b)
            .unwrap_or(mine.len().min(reference.len()));
        let around = |b: &[u8]| {
            let from = at.saturating_sub(80);
            String::from_utf8_lossy(&b[from..(at + 80).min(b.len())]).into_owned()
        };
        panic!(
            "{what}: hand-written JSON differs from serde_json at byte {at} \
             (lengths {} vs {})\n  ndjson: ...{}...\n  serde:  ...{}...",
            mine.len(),
            reference.len(),
            around(mine),
            around(reference)
        );
    }

    fn captures_under(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                captures_under(&p, out);
            } else if p.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
                out.push(p);
            }
        }
    }

    /// Runs one capture through the engine and the diagnosis (as `read` does) and compares
    /// every connection and dns record. Returns how many records were compared.
    fn compare_capture(path: &Path, config: &Config) -> usize {
        let Ok(mut src) = modsniff_capture::FileSource::open(path) else {
            return 0; // not a capture we can open: nothing to compare
        };
        let mut analysis = Analysis::new(config.clone(), GoSettings::default(), false);
        let (engine, out) = analysis.split();
        let mut n = 0usize;
        let name = path.display().to_string();
        let mut check = |ev: Event| match ev {
            Event::Connection(c) => {
                out.diag.on_connection(&c);
                let go = go_of(&c, &out.diag);
                n += 1;
                let what = format!("{name}: connection #{n} (id {})", c.id);
                assert_same(
                    &what,
                    &mine_conn(&c, go.as_ref()),
                    &serde_conn(&c, go.as_ref()),
                );
            }
            Event::Dns(d) => {
                out.diag.on_dns(&d);
                n += 1;
                let what = format!("{name}: dns #{n} (id {})", d.id);
                assert_same(&what, &mine_dns(&d), &serde_dns(&d));
            }
            _ => {}
        };
        while let Ok(Some(pkt)) = src.next_packet() {
            engine.push(&pkt, &mut check);
        }
        engine.finish(&mut check);
        n
    }

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// ../shared beside the repository, or /work/shared (where the worktrees' lives).
    fn shared() -> Option<PathBuf> {
        [repo().join("../shared"), PathBuf::from("/work/shared")]
            .into_iter()
            .find(|p| p.is_dir())
    }

    #[test]
    fn every_corpus_record_matches_serde() {
        let mut default_runs = Vec::new();
        captures_under(&repo().join("fixtures"), &mut default_runs);
        let fixtures = default_runs.len();
        assert!(fixtures > 0, "no capture under fixtures/");
        match shared() {
            Some(s) => {
                captures_under(&s.join("pcaps/public"), &mut default_runs);
                captures_under(&s.join("scenarios"), &mut default_runs);
            }
            None => eprintln!(
                "SKIP the public captures and scenarios: ../shared (or /work/shared) is absent"
            ),
        }
        let mut records = 0;
        let mut fixture_records = 0;
        for (i, p) in default_runs.iter().enumerate() {
            let n = compare_capture(p, &Config::default());
            records += n;
            if i < fixtures {
                fixture_records += n;
            }
        }
        // The fixtures again with the lab PKI (as tests/fixtures.rs reads them): chains
        // that validate, and valid only through --ca-file.
        let pki = repo().join("fixtures/harness/pki");
        let mut lab = Config::default();
        lab.tls.public_roots_der = read_pem_certs(&pki.join("root.pem")).unwrap().into();
        lab.tls.extra_roots_der = read_pem_certs(&pki.join("trust-corp.pem")).unwrap().into();
        for p in default_runs.iter().take(fixtures) {
            records += compare_capture(p, &lab);
        }
        eprintln!(
            "compared {records} records from {} captures ({fixture_records} from the {fixtures} \
             fixtures, then the fixtures again with the lab PKI)",
            default_runs.len()
        );
        assert!(
            fixture_records > 100,
            "only {fixture_records} fixture records"
        );
        if default_runs.len() > fixtures {
            assert!(
                records > 2 * fixture_records,
                "the shared captures gave no record"
            );
        }
    }

    /// A real TLS connection with every optional field filled and every skipped one present,
    /// so that both sides of each `skip_serializing_if` are compared, whatever the corpus holds.
    #[test]
    fn every_optional_field_matches_serde() {
        let path = repo().join("fixtures/clean/capture.pcap");
        let mut src = modsniff_capture::FileSource::open(&path).unwrap();
        let mut engine = modsniff_core::Engine::new(Config::default());
        let mut events = Vec::new();
        while let Ok(Some(pkt)) = src.next_packet() {
            engine.push(&pkt, &mut events);
        }
        engine.finish(&mut events);
        let mut conn = events
            .iter()
            .find_map(|e| match e {
                Event::Connection(c) if c.tls.is_some() => Some((**c).clone()),
                _ => None,
            })
            .expect("a TLS connection in fixtures/clean");
        let mut dns_rec = events
            .iter()
            .find_map(|e| match e {
                Event::Dns(d) => Some((**d).clone()),
                _ => None,
            })
            .expect("a dns record in fixtures/clean");
        let ts = Timestamp::from_nanos(1_795_389_452_253_000_123);
        conn.server_name = Some("a\"b\\c\u{1}\u{7f}é\u{2028}".into());
        conn.client = "[fe80::1%3]:51000".parse().unwrap();
        conn.server = "[2001:db8::ffff:1.2.3.4]:443".parse().unwrap();
        conn.handshake_rtt = Some(Duration::from_nanos(5_000));
        conn.resets = vec![
            ResetInfo {
                packet: 9,
                ts,
                from: Side::Server,
                ttl: 50,
                ip_id: Some(7),
                seq: u32::MAX,
                ack: 0,
                after_bytes: 12,
                with_unacked_data: true,
            },
            ResetInfo {
                packet: 10,
                ts,
                from: Side::Client,
                ttl: 64,
                ip_id: None,
                seq: 1,
                ack: 2,
                after_bytes: 0,
                with_unacked_data: false,
            },
        ];
        conn.icmp = vec![
            IcmpInfo {
                packet: 3,
                ts,
                from: "10.0.0.1".parse().unwrap(),
                v6: false,
                icmp_type: 3,
                code: 4,
                ttl: 255,
            },
            IcmpInfo {
                packet: 4,
                ts,
                from: "2001:db8::1".parse().unwrap(),
                v6: true,
                icmp_type: 1,
                code: 0,
                ttl: 1,
            },
        ];
        conn.partial = vec!["memcap", "evicted"];
        conn.overlap_conflicts = 3;
        let full_http = HttpTransaction {
            method: Some("GET".into()),
            uri: Some("/golang.org/x/text/@v/list".into()),
            host: Some("proxy.golang.org".into()),
            status: Some(200),
            version: Some("HTTP/1.1"),
            user_agent: Some("Go-http-client/1.1".into()),
            proxy_authorization: true,
            range: Some("bytes=0-".into()),
            request_frame: Some(4),
            request_ts: Some(ts),
            reason: Some("OK \"fine\"".into()),
            response_version: Some("HTTP/1.0"),
            informational: vec![100, 103],
            content_length: Some(u64::MAX),
            content_type: Some("text/plain".into()),
            chunked: true,
            proxy_authenticate: Some("Basic".into()),
            via: Some("1.1 squid".into()),
            server: Some("nginx".into()),
            location: Some("https://x/\u{0}".into()),
            content_range: Some("bytes 0-1/2".into()),
            response_frame: Some(6),
            response_ts: Some(ts),
            body_bytes: Some(0),
            body_missing: 7,
            body_complete: Some(false),
        };
        conn.http = vec![full_http, HttpTransaction::default()];
        for app in [Protocol::Tls, Protocol::Http, Protocol::Dns] {
            conn.app = Some(app);
            assert_same("app", &mine_conn(&conn, None), &serde_conn(&conn, None));
        }
        for reason in [
            EndReason::Closed,
            EndReason::Idle,
            EndReason::Evicted,
            EndReason::EndOfInput,
        ] {
            conn.end_reason = reason;
            assert_same("end", &mine_conn(&conn, None), &serde_conn(&conn, None));
        }
        for s in [&mut conn.client_stats, &mut conn.server_stats] {
            s.ts_first = Some(ts);
            s.ts_last = Some(ts);
            s.ttl_min = Some(1);
            s.ttl_max = Some(255);
            s.ip_id_last = Some(65535);
            s.syn_frames = vec![1, 2, 3];
            s.first_data_frame = Some(4);
            s.last_data_frame = Some(5);
            s.last_data_ts = Some(ts);
            s.fin_frame = Some(6);
            s.window_scale = Some(14);
        }
        let t = conn.tls.as_deref_mut().unwrap();
        t.client_hello_retry = t.client_hello.clone();
        t.hello_retry_request = t.server_hello.clone();
        if let Some(sh) = t.server_hello.as_mut() {
            sh.version_name = None;
            sh.supported_version = None;
            sh.cipher_name = None;
            sh.alpn = Some("h2".into());
            sh.key_share = None;
        }
        t.certificate_frame = Some(11);
        t.certificates.push(CertificateInfo {
            parse_error: Some("bad \\ der".into()),
            not_before_unix: Some(i64::MIN),
            not_after_unix: Some(-1),
            ..CertificateInfo::default()
        });
        t.client_certificates = t.certificates.clone();
        t.valid_only_via_ca_file = true;
        t.sslv2_client_hello_frame = Some(1);
        t.alerts.push(AlertInfo {
            side: Side::Client,
            frame: 20,
            ts,
            encrypted: false,
            level: Some(2),
            description: Some(42),
            description_name: Some("bad_certificate"),
            record_length: 2,
        });
        t.alerts.push(AlertInfo {
            side: Side::Server,
            frame: 21,
            ts,
            encrypted: true,
            level: None,
            description: None,
            description_name: None,
            record_length: 26,
        });
        t.server.not_tls = Some(NotTls {
            frame: 5,
            prefix: "HTTP/1.1 400 Bad Request\r\n".into(),
        });
        t.server.gave_up = true;
        let mut unknown = t
            .client
            .records_after_hello
            .first()
            .copied()
            .unwrap_or_default();
        unknown.content_type = ContentType(99);
        t.client.records_after_hello.push(unknown);
        t.client.first_encrypted = None;
        t.anomalies.truncated_at_end = 1;
        for v in [
            None,
            Some(Validation::Valid),
            Some(Validation::UnknownIssuer),
            Some(Validation::Expired),
            Some(Validation::NotYetValid),
            Some(Validation::NameMismatch),
            Some(Validation::SelfSigned),
            Some(Validation::Other("webpki: \"BadDer\"\n".into())),
        ] {
            if let Some(t) = conn.tls.as_deref_mut() {
                t.validation = v;
            }
            assert_same("tls", &mine_conn(&conn, None), &serde_conn(&conn, None));
        }
        let roles = [
            None,
            Some(GoRole::ModuleProxy),
            Some(GoRole::ChecksumDb),
            Some(GoRole::Vcs),
            Some(GoRole::HttpProxy),
        ];
        let endpoints = [
            Endpoint::List,
            Endpoint::Info,
            Endpoint::Mod,
            Endpoint::Zip,
            Endpoint::Latest,
            Endpoint::SumdbLookup,
            Endpoint::SumdbTile,
            Endpoint::SumdbLatest,
            Endpoint::SumdbSupported,
            Endpoint::GoGet,
            Endpoint::GitSmartHttp,
        ];
        for (i, role) in roles.into_iter().enumerate() {
            for e in &endpoints {
                let req = GoRequest {
                    module: (i % 2 == 0).then(|| "golang.org/x/text".into()),
                    version: (i % 3 == 0).then(|| "v0.3.0".into()),
                    endpoint: e.clone(),
                };
                let go = GoInfo {
                    role,
                    module: req.module.clone(),
                    version: req.version.clone(),
                    endpoint: (i != 1).then(|| e.clone()),
                    requests: if i > 2 {
                        vec![req.clone(), req]
                    } else {
                        Vec::new()
                    },
                };
                assert_same(
                    "go",
                    &mine_conn(&conn, Some(&go)),
                    &serde_conn(&conn, Some(&go)),
                );
            }
        }
        let empty = GoInfo {
            role: None,
            module: None,
            version: None,
            endpoint: None,
            requests: Vec::new(),
        };
        assert_same(
            "empty go",
            &mine_conn(&conn, Some(&empty)),
            &serde_conn(&conn, Some(&empty)),
        );

        dns_rec.truncated = true;
        dns_rec.rtt = None;
        dns_rec.rcode = None;
        dns_rec.rcode_code = None;
        dns_rec.qname = None;
        dns_rec.query_frame = None;
        dns_rec.answers.push(DnsAnswer {
            name: "x".into(),
            rtype: DnsType(65534),
            ttl: u32::MAX,
            data: None,
        });
        assert_same("dns", &mine_dns(&dns_rec), &serde_dns(&dns_rec));
    }

    fn escaped(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        string(&mut v, s);
        v
    }

    #[test]
    fn escaping_matches_serde() {
        let mut all_ascii = String::new();
        for b in 0u8..0x80 {
            all_ascii.push(char::from(b));
        }
        for s in [
            "",
            "plain",
            "\"",
            "\\",
            "\\\"",
            "/",
            "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}",
            "\u{7f}",
            "é",
            "a\u{2028}b\u{2029}c",
            "\u{10ffff}",
            "\u{fffd}",
            "ends with \n",
            "\tstarts",
            &all_ascii,
        ] {
            assert_same(
                &format!("{s:?}"),
                &escaped(s),
                &serde_json::to_vec(s).unwrap(),
            );
        }
    }

    /// Every ASCII byte and a few non-ASCII characters at every position of a 24-byte string
    /// (three words of the eight-byte scan), in plain text and next to another escape.
    #[test]
    fn every_byte_at_every_offset_escapes_as_serde() {
        let mut specials: Vec<char> = (0u8..0x80).map(char::from).collect();
        specials.extend(['é', '\u{2028}', '\u{fffd}', '\u{10ffff}']);
        for c in specials {
            for at in 0..24 {
                for base in ["abcdefghijklmnopqrstuvwx", "abcdefgh\"jklmnop\u{1}rstuvwx"] {
                    let mut s: String = base.chars().take(at).collect();
                    s.push(c);
                    s.extend(base.chars().skip(at + 1));
                    assert_same(
                        &format!("{s:?}"),
                        &escaped(&s),
                        &serde_json::to_vec(&s).unwrap(),
                    );
                }
            }
        }
    }

    /// 10,001 consecutive microseconds around 0 s, 10 ms, 100 ms, 1 s, every power of two up to the end of the
    /// integer path of `secs`, and a bench-capture time.
    #[test]
    fn timestamp_sweeps_match_serde() {
        let centres = (0..=33u32).map(|k| (1u64 << k) * 1_000_000).chain([
            0,
            10_000,
            100_000,
            1_795_389_452_253_000,
        ]);
        let mut o = Vec::new();
        for c in centres {
            for m in c.saturating_sub(5_000)..=c + 5_000 {
                let t = Timestamp::from_nanos(m * 1000);
                o.clear();
                ts(&mut o, t);
                assert_same(&format!("{m} us"), &o, &serde_json::to_vec(&t).unwrap());
            }
        }
    }

    /// Every integer below 100,000, both sides of every power of ten, and each width's ends.
    #[test]
    fn integers_match_serde() {
        let mut o = Vec::new();
        let pow_edges = (0..20u32).flat_map(|k| {
            let p = 10u64.pow(k);
            [p - 1, p, p + 1]
        });
        for v in (0..100_000u64)
            .chain(pow_edges)
            .chain([u64::MAX - 1, u64::MAX])
        {
            o.clear();
            int(&mut o, v);
            assert_same(&format!("{v}"), &o, &serde_json::to_vec(&v).unwrap());
        }
        o.clear();
        int(&mut o, u8::MAX);
        int(&mut o, u16::MAX);
        int(&mut o, u32::MAX);
        int(&mut o, usize::MAX);
        int(&mut o, i64::MIN);
        let want = format!(
            "{}{}{}{}{}",
            u8::MAX,
            u16::MAX,
            u32::MAX,
            usize::MAX,
            i64::MIN
        );
        assert_same("widths", &o, want.as_bytes());
    }

    fn float_bytes(v: f64) -> Vec<u8> {
        let mut o = Vec::new();
        float(&mut o, v);
        o
    }

    #[test]
    fn floats_match_serde() {
        for v in [
            0.0,
            -0.0,
            1.0,
            5e-6,
            1e-7,
            0.1,
            1795389452.253,
            1e15,
            1e16,
            1e17,
            1e21,
            1e22,
            123456789012345680.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_same(
                &format!("{v:?}"),
                &float_bytes(v),
                &serde_json::to_vec(&v).unwrap(),
            );
        }
        for n in [
            0,
            999,
            1_000,
            5_000,
            1_000_000_000,
            1_795_389_452_253_000_000,
            1_795_389_452_000_001_000,
            1_795_389_452_100_000_000,
            999_999_999,
            (EXACT_MICROS_BELOW_SECS - 1) * 1_000_000_000 + 999_999_999,
            EXACT_MICROS_BELOW_SECS * 1_000_000_000,
            u64::MAX,
        ] {
            let mut o = Vec::new();
            ts(&mut o, Timestamp::from_nanos(n));
            assert_same(
                &format!("ts {n}"),
                &o,
                &serde_json::to_vec(&Timestamp::from_nanos(n)).unwrap(),
            );
            o.clear();
            dur(&mut o, Duration::from_nanos(n));
            assert_same(
                &format!("duration {n}"),
                &o,
                &serde_json::to_vec(&Duration::from_nanos(n)).unwrap(),
            );
        }
    }

    proptest! {
        #[test]
        fn any_string_escapes_as_serde(s in any::<String>()) {
            prop_assert_eq!(escaped(&s), serde_json::to_vec(&s).unwrap());
        }

        /// Plain runs of any length between the bytes that need escaping, so that the
        /// eight-byte scan meets them at every offset.
        #[test]
        fn runs_and_escapes_as_serde(s in "([a-z~/\u{7f}-\u{ff}\u{2028}]{0,19}[\\x00-\\x1f\"\\\\]?){0,8}") {
            prop_assert_eq!(escaped(&s), serde_json::to_vec(&s).unwrap());
        }

        #[test]
        fn control_heavy_strings_escape_as_serde(s in "[\\x00-\\x20\"\\\\a\u{7f}\u{80}\u{2028}é]{0,40}") {
            prop_assert_eq!(escaped(&s), serde_json::to_vec(&s).unwrap());
        }

        #[test]
        fn any_float_as_serde(v in any::<f64>()) {
            prop_assert_eq!(float_bytes(v), serde_json::to_vec(&v).unwrap());
        }

        /// The integer path of `secs` (1 s to 2^33 s), densely: any microsecond of the range,
        /// and the microseconds next to its ends and to every power of two in it.
        #[test]
        fn timestamps_in_the_integer_range_as_serde(
            micros in 0u64..(EXACT_MICROS_BELOW_SECS * 1_000_000 + 10),
            pow in 0u32..34,
            delta in -3_000_000i64..3_000_000,
        ) {
            let near_pow = ((1u64 << pow) * 1_000_000).saturating_add_signed(delta);
            for m in [micros, near_pow] {
                let n = m.saturating_mul(1000) + 999;
                let mut o = Vec::new();
                ts(&mut o, Timestamp::from_nanos(n));
                prop_assert_eq!(o, serde_json::to_vec(&Timestamp::from_nanos(n)).unwrap());
            }
        }

        #[test]
        fn any_timestamp_as_serde(n in any::<u64>()) {
            let mut o = Vec::new();
            ts(&mut o, Timestamp::from_nanos(n));
            prop_assert_eq!(o, serde_json::to_vec(&Timestamp::from_nanos(n)).unwrap());
        }

        #[test]
        fn any_integer_as_serde(a in any::<u64>(), b in any::<i64>(), c in any::<u16>()) {
            let mut o = Vec::new();
            int(&mut o, a);
            o.push(b' ');
            int(&mut o, b);
            o.push(b' ');
            hex16(&mut o, c);
            let want = format!(
                "{} {} {}",
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&b).unwrap(),
                serde_json::to_string(&modsniff_core::app::tls::CipherSuite(c)).unwrap()
            );
            prop_assert_eq!(String::from_utf8(o).unwrap(), want);
        }
    }
}
