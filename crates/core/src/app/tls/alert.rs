//! Alerts: plaintext ones with level and description, encrypted ones by size and place.

use crate::types::Side;

/// One alert record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AlertInfo {
    /// Who sent it.
    pub side: Side,
    /// Frame of the packet that carried its record header.
    pub frame: u64,
    /// Timestamp of the chunk that carried its header.
    pub ts: crate::time::Timestamp,
    /// The body could not be read: sent after ChangeCipherSpec, or in TLS 1.3 after the
    /// ServerHello (and longer than a plaintext alert's 2 bytes).
    pub encrypted: bool,
    /// 1 = warning, 2 = fatal; `None` when encrypted.
    pub level: Option<u8>,
    /// The alert description code (40 = handshake_failure); `None` when encrypted.
    pub description: Option<u8>,
    /// Its RFC name (`handshake_failure`), when known.
    pub description_name: Option<&'static str>,
    /// Record body length.
    pub record_length: u16,
}

/// RFC 8446 §6 / RFC 5246 §7.2 alert descriptions.
pub fn description_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => return None,
    })
}
