//! What can go wrong while reading captures: errors (reading cannot go on) and warnings
//! (the input was damaged; what came before the damage is kept).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// An operation on a packet source that cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Opening, stat-ing or reading the input failed.
    #[error("{name}: read failed at byte {offset}: {source}")]
    Io {
        /// The input's name (path, or "-" for stdin).
        name: String,
        /// Byte offset where reading failed.
        offset: u64,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Could not open the file at all.
    #[error("{}: cannot open: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The first bytes are neither a pcap nor a pcapng magic number.
    #[error(
        "{name}: not a pcap or pcapng file (first bytes: {}); tcpdump -w and dumpcap write the supported formats",
        hex(first_bytes)
    )]
    UnknownFormat {
        /// The input's name.
        name: String,
        /// Its first bytes (at most 16), shown in hex.
        first_bytes: Vec<u8>,
    },
    /// The input ends inside the file header (but is not empty).
    #[error("{name}: file header truncated: need {needed} bytes, have {available}")]
    HeaderTruncated {
        /// The input's name.
        name: String,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes the input has.
        available: usize,
    },
    /// A pcapng file whose first Section Header Block cannot be parsed.
    #[error("{name}: bad pcapng section header at byte {offset}: {reason}")]
    BadHeader {
        /// The input's name.
        name: String,
        /// Byte offset of the block.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Live capture was refused for lack of privileges.
    #[error(
        "cannot capture on {interface}: permission denied. Live capture needs CAP_NET_RAW \
         (and CAP_NET_ADMIN for promiscuous mode): run as root, or grant them once with \
         `sudo setcap cap_net_raw,cap_net_admin=eip $(which modsniff)`"
    )]
    Permission {
        /// The interface asked for.
        interface: String,
    },
    /// The interface does not exist or cannot be opened.
    #[error("cannot capture on {interface}: {message}")]
    Interface {
        /// The interface asked for.
        interface: String,
        /// What libpcap said.
        message: String,
    },
    /// The BPF filter does not compile.
    #[error("bad capture filter {filter:?}: {message}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// What libpcap said.
        message: String,
    },
    /// Any other libpcap failure.
    #[error("libpcap: {message}")]
    Live {
        /// What libpcap said.
        message: String,
    },
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// What kind of damage stopped (or was skipped while) reading a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// The input ends inside a record (packet) header.
    TruncatedHeader {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// The input ends inside a record's packet data.
    TruncatedRecord {
        /// Bytes the record's data needs.
        needed: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// A record claims more captured bytes than any real capture holds (tshark's limit);
    /// the file is damaged from here on.
    BogusLength {
        /// The captured length the record claims.
        caplen: u64,
        /// The most any record may hold ([`crate::ReadLimits::max_caplen`]).
        max: u64,
    },
    /// A pcapng block whose fields contradict each other.
    BadBlock {
        /// The block's type number.
        block_type: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A pcapng packet for an interface that no Interface Description Block declared.
    UnknownInterface {
        /// The interface id the packet names.
        interface: u32,
        /// Interfaces declared so far in its section.
        known: usize,
    },
}

/// Damage found in the input. Reading stops cleanly at the first one: every packet before it
/// was delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureWarning {
    /// The input's name (path, or "-" for stdin).
    pub name: String,
    /// Byte offset of the damaged record or block from the start of the input.
    pub offset: u64,
    /// Packets delivered before the damage.
    pub packets: u64,
    /// What the damage is.
    pub kind: WarningKind,
}

impl fmt::Display for CaptureWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.name)?;
        match &self.kind {
            WarningKind::TruncatedHeader { needed, available } => write!(
                f,
                "truncated record header at byte {}: need {needed} bytes, have {available}",
                self.offset
            )?,
            WarningKind::TruncatedRecord { needed, available } => write!(
                f,
                "truncated record at byte {}: need {needed} bytes, have {available}",
                self.offset
            )?,
            WarningKind::BogusLength { caplen, max } => write!(
                f,
                "bogus record length at byte {}: {caplen} bytes, more than the maximum of {max}",
                self.offset
            )?,
            WarningKind::BadBlock { block_type, reason } => write!(
                f,
                "bad pcapng block (type {block_type:#010x}) at byte {}: {reason}",
                self.offset
            )?,
            WarningKind::UnknownInterface { interface, known } => write!(
                f,
                "packet at byte {} names interface {interface}, but only {known} interfaces are declared",
                self.offset
            )?,
        }
        write!(f, "; stopped after {} packets", self.packets)
    }
}
