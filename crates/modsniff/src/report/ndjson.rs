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
use modsniff_core::app::dns::{DnsAnswer, DnsRecord, DnsType};
use modsniff_core::app::http::HttpTransaction;
use modsniff_core::app::tls::record::GroupInfo;
use modsniff_core::app::tls::{
    AlertInfo, CertificateInfo, ClientHello, ContentType, HandshakeNote, NotTls, RecordNote,
    ServerHello, SideSummary, TlsAnomalies, TlsInfo, Validation,
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
    dns_type(o, *rtype);
    o.extend_from_slice(b",\"ttl\":");
    int(o, *ttl);
    o.extend_from_slice(b",\"data\":");
    opt_string(o, data.as_deref());
    o.push(b'}');
}

/// Known types by mnemonic, the others as a bare number (`impl Serialize for DnsType`).
fn dns_type(o: &mut Vec<u8>, t: DnsType) {
    match t.name() {
        Some(n) => string(o, n),
        None => int(o, t.0),
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
    content_type_v(o, *content_type);
    o.extend_from_slice(b",\"length\":");
    int(o, *length);
    o.extend_from_slice(b",\"encrypted\":");
    boolean(o, *encrypted);
    o.push(b'}');
}

/// By name where known, else the number (`impl Serialize for ContentType`).
fn content_type_v(o: &mut Vec<u8>, c: ContentType) {
    match c.name() {
        Some(n) => string(o, n),
        None => int(o, c.0),
    }
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

/// `Timestamp`'s and `Duration`'s `Serialize`: seconds with microsecond precision, as f64.
fn secs(o: &mut Vec<u8>, nanos: u64) {
    float(o, (nanos / 1000) as f64 / 1e6);
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

/// A JSON string exactly as serde_json escapes it: runs of plain bytes are copied whole.
pub fn string(o: &mut Vec<u8>, s: &str) {
    o.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[usize::from(b)];
        if esc == 0 {
            continue;
        }
        o.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        start = i + 1;
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
    o.extend_from_slice(bytes.get(start..).unwrap_or_default());
    o.push(b'"');
}
