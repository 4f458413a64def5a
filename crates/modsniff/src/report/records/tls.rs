//! The `tls` object of a connection record: hellos, certificates, validation, alerts, and
//! what each side sent at the record layer.

use super::connection::Side;
use super::values::{Each, Hex16, NameOrNumber, One, Secs, Shared, View};
use super::write::{self, WriteJson, json_object};
use modsniff_core::tls::GroupInfo;
use modsniff_core::tls::{self as core_tls, TlsInfo};
use schemars::JsonSchema;
use serde::Serialize;
use std::sync::Arc;

json_object! {
    /// Everything learned about one connection's TLS.
    pub struct Tls<'a> {
        pub client_hello: Option<One<'a, core_tls::ClientHello>>,
        /// The second ClientHello, sent after a HelloRetryRequest.
        pub client_hello_retry: Option<One<'a, core_tls::ClientHello>>,
        /// Further ClientHellos (renegotiation in clear), counted only.
        pub extra_client_hellos: u64,
        pub hello_retry_request: Option<One<'a, core_tls::ServerHello>>,
        pub server_hello: Option<One<'a, core_tls::ServerHello>>,
        /// Server certificates, leaf first, as sent (first Certificate message).
        pub certificates: Each<'a, Arc<core_tls::CertificateInfo>>,
        pub certificate_frame: Option<u64>,
        /// Client certificates, when the server asked for them.
        pub client_certificates: Each<'a, Arc<core_tls::CertificateInfo>>,
        /// Chain validation of `certificates`.
        pub validation: Option<One<'a, core_tls::Validation>>,
        /// The chain is valid only through the user's extra roots (`--ca-file`,
        /// SSL_CERT_FILE), not through a public root.
        #[omit]
        pub valid_only_via_ca_file: bool,
        pub alerts: Each<'a, core_tls::AlertInfo>,
        pub client: One<'a, core_tls::SideSummary>,
        pub server: One<'a, core_tls::SideSummary>,
        /// Frame of an SSLv2-format ClientHello (skipped, not decoded).
        pub sslv2_client_hello_frame: Option<u64>,
        pub anomalies: One<'a, core_tls::TlsAnomalies>,
    }
}

impl View for TlsInfo {
    type Out<'a> = Tls<'a>;
    fn view(&self) -> Tls<'_> {
        let t = self;
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
            chain: _,
            bounds: _,
        } = t;
        Tls {
            client_hello: client_hello.as_ref().map(One),
            client_hello_retry: client_hello_retry.as_deref().map(One),
            extra_client_hellos: *extra_client_hellos,
            hello_retry_request: hello_retry_request.as_deref().map(One),
            server_hello: server_hello.as_deref().map(One),
            certificates: Each(certificates),
            certificate_frame: *certificate_frame,
            client_certificates: Each(client_certificates),
            validation: validation.as_ref().map(One),
            valid_only_via_ca_file: *valid_only_via_ca_file,
            alerts: Each(alerts),
            client: One(client),
            server: One(server),
            sslv2_client_hello_frame: *sslv2_client_hello_frame,
            anomalies: One(anomalies),
        }
    }
}

json_object! {
    /// What is kept of a ClientHello. Code points are hex strings, GREASE included.
    pub struct ClientHello<'a> {
        /// Server name (SNI host_name).
        pub sni: Option<&'a str>,
        /// ALPN protocol names in the order offered.
        pub alpn: &'a [String],
        /// supported_versions as sent; empty when absent.
        pub versions: Shared<'a, core_tls::TlsVersion>,
        pub legacy_version: Hex16,
        pub cipher_suites: Shared<'a, core_tls::CipherSuite>,
        /// Extension types in wire order.
        pub extensions: Shared<'a, core_tls::ExtensionType>,
        /// supported_groups as sent, with names.
        pub groups: Shared<'a, GroupInfo>,
        /// Groups the client sent key shares for, in order.
        pub key_share: Each<'a, GroupInfo>,
        pub ec_point_formats: &'a [u8],
        pub signature_algorithms: Shared<'a, core_tls::SignatureScheme>,
        pub session_id_len: usize,
        pub psk: bool,
        pub session_ticket: bool,
        /// encrypted_client_hello offered.
        pub ech: bool,
        pub early_data: bool,
        /// A GREASE value appears among versions, ciphers, extensions or groups.
        pub grease: bool,
        /// The handshake message's body length.
        pub handshake_length: usize,
        /// TCP segments that carried it.
        pub tcp_segments: u32,
        /// TLS records that carried it.
        pub records: u32,
        /// Frame of its first byte and of the segment that completed it.
        pub first_frame: u64,
        pub last_frame: u64,
        /// Time of the segment that completed it.
        pub ts: Secs,
        /// A post-quantum hybrid key share is sent (X25519MLKEM768 and the like): the hello
        /// spans two segments, which some middleboxes mishandle.
        pub pq_key_share: bool,
        /// JA3 string and its MD5, as tshark's `tls.handshake.ja3_full` and `ja3`.
        pub ja3_string: &'a str,
        pub ja3: &'a str,
        /// JA4 (FoxIO) and its raw form.
        pub ja4: &'a str,
        pub ja4_r: &'a str,
        /// The extension block ended in the middle of an extension.
        pub extensions_truncated: bool,
        /// The capture holds only the head of this hello (its snap length cut the packet,
        /// or a segment was lost): fields past the cut are empty, fingerprints too.
        pub cut: bool,
    }
}

impl View for core_tls::ClientHello {
    type Out<'a> = ClientHello<'a>;
    fn view(&self) -> ClientHello<'_> {
        let c = self;
        let core_tls::ClientHello {
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
            ts,
            pq_key_share,
            ja3_string,
            ja3,
            ja4,
            ja4_r,
            extensions_truncated,
            cut,
        } = c;
        ClientHello {
            sni: sni.as_deref(),
            alpn,
            versions: Shared(versions),
            legacy_version: Hex16(legacy_version.0),
            cipher_suites: Shared(cipher_suites),
            extensions: Shared(extensions),
            groups: Shared(groups),
            key_share: Each(key_share),
            ec_point_formats,
            signature_algorithms: Shared(signature_algorithms),
            session_id_len: *session_id_len,
            psk: *psk,
            session_ticket: *session_ticket,
            ech: *ech,
            early_data: *early_data,
            grease: *grease,
            handshake_length: *handshake_length,
            tcp_segments: *tcp_segments,
            records: *records,
            first_frame: *first_frame,
            last_frame: *last_frame,
            ts: (*ts).into(),
            pq_key_share: *pq_key_share,
            ja3_string,
            ja3,
            ja4,
            ja4_r,
            extensions_truncated: *extensions_truncated,
            cut: *cut,
        }
    }
}

json_object! {
    /// What is kept of a ServerHello (or a HelloRetryRequest).
    pub struct ServerHello<'a> {
        /// The negotiated version: supported_versions if present, else legacy_version.
        pub version: Hex16,
        /// Its name (`TLS 1.3`).
        pub version_name: Option<&'a str>,
        pub legacy_version: Hex16,
        /// The supported_versions extension's value, if sent.
        pub supported_version: Option<Hex16>,
        pub cipher: Hex16,
        pub cipher_name: Option<&'static str>,
        pub extensions: Each<'a, core_tls::ExtensionType>,
        /// The ALPN protocol selected, when visible (TLS 1.2 and older).
        pub alpn: Option<&'a str>,
        /// key_share group selected (TLS 1.3) or requested (HelloRetryRequest).
        pub key_share: Option<One<'a, GroupInfo>>,
        pub hello_retry_request: bool,
        pub session_id_len: usize,
        pub ja3s_string: &'a str,
        pub ja3s: &'a str,
        /// Frame of its first byte and of the segment that completed it.
        pub first_frame: u64,
        pub last_frame: u64,
        /// Time of the segment that completed it.
        pub ts: Secs,
        pub tcp_segments: u32,
        pub records: u32,
        /// The capture holds only the head of this hello: fields past the cut are empty.
        pub cut: bool,
    }
}

impl View for core_tls::ServerHello {
    type Out<'a> = ServerHello<'a>;
    fn view(&self) -> ServerHello<'_> {
        let s = self;
        let core_tls::ServerHello {
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
            ts,
            tcp_segments,
            records,
            cut,
        } = s;
        ServerHello {
            version: Hex16(version.0),
            version_name: version_name.as_deref(),
            legacy_version: Hex16(legacy_version.0),
            supported_version: supported_version.map(|v| Hex16(v.0)),
            cipher: Hex16(cipher.0),
            cipher_name: *cipher_name,
            extensions: Each(extensions),
            alpn: alpn.as_deref(),
            key_share: key_share.as_ref().map(One),
            hello_retry_request: *hello_retry_request,
            session_id_len: *session_id_len,
            ja3s_string,
            ja3s,
            first_frame: *first_frame,
            last_frame: *last_frame,
            ts: (*ts).into(),
            tcp_segments: *tcp_segments,
            records: *records,
            cut: *cut,
        }
    }
}

json_object! {
    /// A named group (supported_groups, key_share).
    pub struct Group {
        pub id: Hex16,
        pub name: Option<&'static str>,
    }
}

impl View for GroupInfo {
    type Out<'a> = Group;
    fn view(&self) -> Group {
        let GroupInfo { id, name } = self;
        Group {
            id: Hex16(id.0),
            name: *name,
        }
    }
}

json_object! {
    /// One certificate as sent.
    pub struct Certificate<'a> {
        /// Position in the message, 0 = leaf.
        pub index: usize,
        pub subject: &'a str,
        pub issuer: &'a str,
        /// The last CN of the subject.
        pub subject_cn: Option<&'a str>,
        pub issuer_cn: Option<&'a str>,
        /// DNS names of the subjectAltName extension.
        pub san: &'a [String],
        /// RFC 3339, UTC.
        pub not_before: Option<&'a str>,
        pub not_after: Option<&'a str>,
        /// The same, in Unix seconds.
        pub not_before_unix: Option<i64>,
        pub not_after_unix: Option<i64>,
        /// Serial number, hex bytes separated by `:` (tshark's form).
        pub serial: &'a str,
        /// SHA-256 of the DER certificate, hex.
        pub sha256: &'a str,
        /// SHA-256 of the DER SubjectPublicKeyInfo, hex (the pin form).
        pub spki_sha256: Option<&'a str>,
        pub is_ca: bool,
        /// Subject equals issuer (a self-signed leaf, or a root sent in the chain).
        pub self_issued: bool,
        pub der_len: usize,
        /// Why the certificate could not be read; the other fields are then empty except
        /// sha256.
        pub parse_error: Option<&'a str>,
    }
}

impl View for core_tls::CertificateInfo {
    type Out<'a> = Certificate<'a>;
    fn view(&self) -> Certificate<'_> {
        let core_tls::CertificateInfo {
            index,
            subject,
            issuer,
            subject_cn,
            issuer_cn,
            san,
            // Read by the diagnosis (an IP address in the SANs, any SAN at all); the contract
            // prints the SAN names.
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
            san_dropped: _,
        } = self;
        Certificate {
            index: *index,
            subject,
            issuer,
            subject_cn: subject_cn.as_deref(),
            issuer_cn: issuer_cn.as_deref(),
            san,
            not_before: not_before.as_deref(),
            not_after: not_after.as_deref(),
            not_before_unix: *not_before_unix,
            not_after_unix: *not_after_unix,
            serial,
            sha256,
            spki_sha256: spki_sha256.as_deref(),
            is_ca: *is_ca,
            self_issued: *self_issued,
            der_len: *der_len,
            parse_error: parse_error.as_deref(),
        }
    }
}

/// The outcome of validating the server's chain: `{"result": "valid"}`, or
/// `{"result": "other", "error": "..."}` for any other webpki error.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
#[serde(
    tag = "result",
    content = "error",
    rename_all = "kebab-case",
    deny_unknown_fields
)]
pub enum Validation<'a> {
    Valid,
    UnknownIssuer,
    Expired,
    NotYetValid,
    /// The chain is good but not for the SNI name.
    NameMismatch,
    /// The leaf is self-issued and no trust anchor vouches for it.
    SelfSigned,
    /// Any other webpki error, as its text.
    Other(&'a str),
    /// Not decided: chain building was stopped by the bound named in `error`
    /// (`max_chain_candidates`, `max_chain_signatures`, `max_capture_chain_candidates`,
    /// `max_capture_signatures`, or one of webpki's own).
    Undecided(&'a str),
}

impl View for core_tls::Validation {
    type Out<'a> = Validation<'a>;
    fn view(&self) -> Validation<'_> {
        let v = self;
        use core_tls::Validation as V;
        match v {
            V::Valid => Validation::Valid,
            V::UnknownIssuer => Validation::UnknownIssuer,
            V::Expired => Validation::Expired,
            V::NotYetValid => Validation::NotYetValid,
            V::NameMismatch => Validation::NameMismatch,
            V::SelfSigned => Validation::SelfSigned,
            V::Other(e) => Validation::Other(e),
            V::Undecided(b) => Validation::Undecided(b),
        }
    }
}

/// Adjacently tagged, as the derive above: a unit variant is the tag alone.
impl WriteJson for Validation<'_> {
    fn write_json(&self, o: &mut Vec<u8>) {
        let tag: &[u8] = match self {
            Validation::Valid => b"{\"result\":\"valid\"}",
            Validation::UnknownIssuer => b"{\"result\":\"unknown-issuer\"}",
            Validation::Expired => b"{\"result\":\"expired\"}",
            Validation::NotYetValid => b"{\"result\":\"not-yet-valid\"}",
            Validation::NameMismatch => b"{\"result\":\"name-mismatch\"}",
            Validation::SelfSigned => b"{\"result\":\"self-signed\"}",
            Validation::Other(e) => {
                o.extend_from_slice(b"{\"result\":\"other\",\"error\":");
                write::string(o, e);
                o.push(b'}');
                return;
            }
            Validation::Undecided(b) => {
                o.extend_from_slice(b"{\"result\":\"undecided\",\"error\":");
                write::string(o, b);
                o.push(b'}');
                return;
            }
        };
        o.extend_from_slice(tag);
    }
}

json_object! {
    /// One alert record.
    pub struct Alert {
        /// Who sent it.
        pub side: Side,
        pub frame: u64,
        /// Time of the chunk that carried its header.
        pub ts: Secs,
        /// Its body could not be read (sent after ChangeCipherSpec, or in TLS 1.3 after the
        /// ServerHello).
        pub encrypted: bool,
        /// 1 = warning, 2 = fatal; `null` when encrypted.
        pub level: Option<u8>,
        pub description: Option<u8>,
        pub description_name: Option<&'static str>,
        /// The record body's length.
        pub record_length: u16,
    }
}

impl View for core_tls::AlertInfo {
    type Out<'a> = Alert;
    fn view(&self) -> Alert {
        let core_tls::AlertInfo {
            side,
            frame,
            ts,
            encrypted,
            level,
            description,
            description_name,
            record_length,
        } = self;
        Alert {
            side: side.into(),
            frame: *frame,
            ts: (*ts).into(),
            encrypted: *encrypted,
            level: *level,
            description: *description,
            description_name: *description_name,
            record_length: *record_length,
        }
    }
}

json_object! {
    /// What one side sent at the record layer.
    pub struct TlsSide<'a> {
        pub records: u64,
        pub change_cipher_spec: bool,
        pub change_cipher_spec_frame: Option<u64>,
        /// Plaintext handshake messages, in order (the first few).
        pub handshake_messages: Each<'a, core_tls::HandshakeNote>,
        /// Records after the ServerHello (the first few).
        pub records_after_hello: Each<'a, core_tls::RecordNote>,
        /// All records after the ServerHello, and the bytes of their bodies.
        pub records_after_hello_count: u64,
        pub records_after_hello_bytes: u64,
        /// The first record with an encrypted body.
        pub first_encrypted: Option<One<'a, core_tls::RecordNote>>,
        /// The last record header seen before the side ended.
        pub last_record: Option<One<'a, core_tls::RecordNote>>,
        /// Decoding of this side stopped (desync beyond repair, or not TLS).
        pub gave_up: bool,
        /// This side's first bytes were not TLS although the other side's were.
        pub not_tls: Option<One<'a, core_tls::NotTls>>,
    }
}

impl View for core_tls::SideSummary {
    type Out<'a> = TlsSide<'a>;
    fn view(&self) -> TlsSide<'_> {
        let s = self;
        let core_tls::SideSummary {
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
        TlsSide {
            records: *records,
            change_cipher_spec: *change_cipher_spec,
            change_cipher_spec_frame: *change_cipher_spec_frame,
            handshake_messages: Each(handshake_messages),
            records_after_hello: Each(records_after_hello),
            records_after_hello_count: *records_after_hello_count,
            records_after_hello_bytes: *records_after_hello_bytes,
            first_encrypted: first_encrypted.as_ref().map(One),
            last_record: last_record.as_ref().map(One),
            gave_up: *gave_up,
            not_tls: not_tls.as_deref().map(One),
        }
    }
}

json_object! {
    /// A handshake message, as far as its header tells.
    pub struct HandshakeNote {
        pub msg_type: u8,
        pub length: usize,
        pub frame: u64,
    }
}

impl View for core_tls::HandshakeNote {
    type Out<'a> = HandshakeNote;
    fn view(&self) -> HandshakeNote {
        let core_tls::HandshakeNote {
            msg_type,
            length,
            frame,
        } = self;
        HandshakeNote {
            msg_type: *msg_type,
            length: *length,
            frame: *frame,
        }
    }
}

json_object! {
    /// A record, as far as its header tells.
    pub struct RecordNote {
        pub frame: u64,
        /// Time of the chunk that carried its header.
        pub ts: Secs,
        pub content_type: NameOrNumber,
        pub length: u16,
        /// Its body is ciphertext.
        pub encrypted: bool,
    }
}

impl View for core_tls::RecordNote {
    type Out<'a> = RecordNote;
    fn view(&self) -> RecordNote {
        let core_tls::RecordNote {
            frame,
            ts,
            content_type,
            length,
            encrypted,
        } = self;
        RecordNote {
            frame: *frame,
            ts: (*ts).into(),
            content_type: NameOrNumber {
                name: content_type.name(),
                number: content_type.0.into(),
            },
            length: *length,
            encrypted: *encrypted,
        }
    }
}

json_object! {
    /// The start of a side that did not speak TLS.
    pub struct NotTls<'a> {
        pub frame: u64,
        /// Its first bytes, non-printable ones as `.`.
        pub prefix: &'a str,
    }
}

impl View for core_tls::NotTls {
    type Out<'a> = NotTls<'a>;
    fn view(&self) -> NotTls<'_> {
        let n = self;
        let core_tls::NotTls { frame, prefix } = n;
        NotTls {
            frame: *frame,
            prefix,
        }
    }
}

json_object! {
    /// Anomalies seen, by kind (counted, never errors).
    pub struct TlsAnomalies {
        pub bad_record_headers: u64,
        pub gaps: u64,
        pub gap_bytes: u64,
        pub resyncs: u64,
        /// Sides given up on after a failed resync.
        pub sides_given_up: u64,
        pub dropped_handshake_messages: u64,
        pub dropped_handshake_bytes: u64,
        pub dropped_certificates: u64,
        pub dropped_alerts: u64,
        /// Handshake messages that could not be read.
        pub malformed_messages: u64,
        /// A ClientHello from the server side or the like.
        pub unexpected_messages: u64,
        /// A side ended in the middle of a record or handshake message.
        pub truncated_at_end: u64,
    }
}

impl View for core_tls::TlsAnomalies {
    type Out<'a> = TlsAnomalies;
    fn view(&self) -> TlsAnomalies {
        let a = self;
        let core_tls::TlsAnomalies {
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
        TlsAnomalies {
            bad_record_headers: *bad_record_headers,
            gaps: *gaps,
            gap_bytes: *gap_bytes,
            resyncs: *resyncs,
            sides_given_up: *sides_given_up,
            dropped_handshake_messages: *dropped_handshake_messages,
            dropped_handshake_bytes: *dropped_handshake_bytes,
            dropped_certificates: *dropped_certificates,
            dropped_alerts: *dropped_alerts,
            malformed_messages: *malformed_messages,
            unexpected_messages: *unexpected_messages,
            truncated_at_end: *truncated_at_end,
        }
    }
}
