//! Live capture through libpcap (the `pcap` crate). Only compiled with the `live` feature, so
//! that the default build does not link libpcap.

use crate::error::CaptureError;
use modsniff_core::{LinkType, Packet};

/// How to open a live capture.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface name (`eth0`, `any`, ...).
    pub interface: String,
    /// A BPF filter in tcpdump syntax, applied in the kernel.
    pub filter: Option<String>,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode (see every frame on the link, not only the
    /// host's own).
    pub promiscuous: bool,
    /// Deliver packets as they arrive instead of in blocks (lower latency, more drops).
    ///
    /// Off by default, as in tcpdump. On Linux libpcap then uses TPACKET_V3, whose ring packs
    /// packets into blocks handed over when full or after `timeout_ms`; immediate mode uses
    /// TPACKET_V2, one fixed-size slot per packet (a slot fits the largest packet the
    /// interface can carry), so the same ring holds far fewer packets. Replaying the benchmark
    /// corpus at ~300k packets/s with the default 32 MiB ring, immediate mode dropped 2-5 %,
    /// blocks none (BENCHMARKS.md).
    pub immediate_mode: bool,
    /// Kernel buffer size in bytes; `None` keeps libpcap's default (2 MiB on Linux).
    pub buffer_size: Option<u32>,
    /// How long one `next_packet` may wait before returning `Ok(None)`.
    pub timeout_ms: u32,
}

/// Default snaplen: whole packets (what tcpdump uses).
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// Default read timeout: short enough for a caller's timer to tick several times a second.
pub const DEFAULT_TIMEOUT_MS: u32 = 200;

impl LiveConfig {
    /// Defaults for `interface`: whole packets, not promiscuous, packets in blocks (not
    /// immediate mode), 200 ms timeout.
    pub fn new(interface: impl Into<String>) -> Self {
        LiveConfig {
            interface: interface.into(),
            filter: None,
            snaplen: DEFAULT_SNAPLEN,
            promiscuous: false,
            immediate_mode: false,
            buffer_size: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

/// The kernel's counters for a live capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets that passed the filter.
    pub received: u64,
    /// Packets dropped because the buffer was full (we read too slowly).
    pub dropped: u64,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// An interface libpcap can capture on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Its name (`eth0`).
    pub name: String,
    /// libpcap's description of it, when it has one.
    pub description: Option<String>,
    /// The interface is up.
    pub is_up: bool,
    /// The interface is a loopback.
    pub is_loopback: bool,
}

/// A live capture on one interface.
///
/// The handle is non-blocking and `next_packet` waits with poll(2): libpcap's own read
/// timeout cannot be relied on (on Linux with TPACKET_V3 an idle interface blocks forever).
/// Each packet is copied once into a reused buffer (no allocation): returning libpcap's
/// borrowed packet from inside the retry loop is not expressible without unsafe code.
pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    interface: String,
    linktype: LinkType,
    frame: u64,
    timeout: std::time::Duration,
    /// The last packet, copied out of libpcap's ring; capacity = snaplen.
    data: Vec<u8>,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("interface", &self.interface)
            .field("linktype", &self.linktype)
            .field("frame", &self.frame)
            .finish_non_exhaustive()
    }
}

/// True when libpcap's message says the process lacks the privileges to capture.
fn is_permission_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("permission") || m.contains("operation not permitted")
}

fn open_error(interface: &str, e: pcap::Error) -> CaptureError {
    match e {
        pcap::Error::PcapError(message) if is_permission_error(&message) => {
            CaptureError::Permission {
                interface: interface.to_string(),
            }
        }
        pcap::Error::PcapError(message) => CaptureError::Interface {
            interface: interface.to_string(),
            message,
        },
        other => CaptureError::Interface {
            interface: interface.to_string(),
            message: other.to_string(),
        },
    }
}

fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl LiveSource {
    /// Opens the capture and applies the filter; fails when the interface, the privileges
    /// or the filter say no.
    pub fn open(config: LiveConfig) -> Result<Self, CaptureError> {
        let iface = config.interface.as_str();
        let mut inactive = pcap::Capture::from_device(iface)
            .map_err(|e| open_error(iface, e))?
            .snaplen(clamp_i32(config.snaplen))
            .promisc(config.promiscuous)
            .immediate_mode(config.immediate_mode)
            // libpcap treats 0 as "wait forever"; keep at least 1 ms so Ok(None) can happen.
            .timeout(clamp_i32(config.timeout_ms.max(1)));
        if let Some(size) = config.buffer_size {
            inactive = inactive.buffer_size(clamp_i32(size));
        }
        let cap = inactive.open().map_err(|e| open_error(iface, e))?;
        let mut cap = cap.setnonblock().map_err(|e| open_error(iface, e))?;
        if let Some(filter) = &config.filter {
            cap.filter(filter, true).map_err(|e| CaptureError::Filter {
                filter: filter.clone(),
                message: e.to_string(),
            })?;
        }
        let linktype = LinkType(cap.get_datalink().0 as u32);
        Ok(LiveSource {
            cap,
            interface: config.interface,
            linktype,
            frame: 0,
            timeout: std::time::Duration::from_millis(config.timeout_ms.max(1).into()),
            data: Vec::with_capacity(config.snaplen.min(DEFAULT_SNAPLEN) as usize),
        })
    }

    /// Waits up to `left` for the capture fd to become readable.
    fn wait(&self, left: std::time::Duration) -> Result<(), CaptureError> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let ts = Timespec {
            tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: left.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&self.cap, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(CaptureError::Live {
                message: format!("{}: poll: {e}", self.interface),
            }),
        }
    }

    /// The next packet, or `Ok(None)` when none arrived within the timeout (a live capture
    /// has no end; the caller decides when to stop).
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        let deadline = std::time::Instant::now() + self.timeout;
        let header = loop {
            match self.cap.next_packet() {
                Ok(p) => {
                    self.data.clear();
                    self.data.extend_from_slice(p.data);
                    break *p.header;
                }
                Err(pcap::Error::TimeoutExpired) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    self.wait(deadline - now)?;
                }
                Err(e) => {
                    return Err(CaptureError::Live {
                        message: format!("{}: {e}", self.interface),
                    });
                }
            }
        };
        self.frame += 1;
        let secs = u64::try_from(header.ts.tv_sec).unwrap_or(0);
        let usecs = u64::try_from(header.ts.tv_usec).unwrap_or(0);
        Ok(Some(Packet {
            ts: crate::file::timestamp(secs, usecs, 1_000_000),
            frame: self.frame,
            orig_len: header.len,
            linktype: self.linktype,
            data: &self.data,
        }))
    }

    /// How long after the last packet arrived it may take to be handed over: a partly filled
    /// block is handed over after the read timeout. Read for this long before stopping to
    /// lose nothing that arrived before the stop.
    pub fn delivery_delay(&self) -> std::time::Duration {
        self.timeout + std::time::Duration::from_millis(50)
    }

    /// The kernel's packet counters so far.
    pub fn stats(&mut self) -> Result<LiveStats, CaptureError> {
        let s = self.cap.stats().map_err(|e| CaptureError::Live {
            message: format!("{}: {e}", self.interface),
        })?;
        Ok(LiveStats {
            received: s.received.into(),
            dropped: s.dropped.into(),
            if_dropped: s.if_dropped.into(),
        })
    }

    /// The link type of the interface's packets.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// Packets delivered so far.
    pub fn packets_read(&self) -> u64 {
        self.frame
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }
}

// PACKET_FANOUT as an int (`id | (type | flags) << 16`), the form every kernel since 3.1
// takes: nix's typed setter and getter pass a C int of that size, so the call matches what
// the kernel reads (the unsafe call is inside nix's macro, not in this crate).
// The macro names its helper macros unqualified.
use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};
sockopt_impl!(
    /// `SOL_PACKET`/`PACKET_FANOUT`: joins the socket to a fanout group.
    PacketFanout,
    Both,
    libc::SOL_PACKET,
    libc::PACKET_FANOUT,
    usize
);

/// The fanout mode: the kernel's flow hash, symmetric (both directions of a TCP or UDP flow
/// go to the same socket: `__skb_get_hash_symmetric` sorts addresses and ports), with IPv4
/// fragments reassembled before hashing (`PACKET_FANOUT_FLAG_DEFRAG`: the socket then
/// receives the whole datagram, not its fragments).
const FANOUT_HASH_DEFRAG: usize = (libc::PACKET_FANOUT_HASH as usize) | 0x8000;
/// `PACKET_FANOUT_FLAG_UNIQUEID`: with id 0, the kernel picks an id no group of this
/// network namespace has (another process's capture cannot be joined by mistake).
const FANOUT_FLAG_UNIQUEID: usize = 0x2000;

impl LiveSource {
    /// Joins this capture's socket to a PACKET_FANOUT group in hash mode (see
    /// `FANOUT_HASH_DEFRAG`): the kernel then hands each packet to one socket of the group,
    /// all the packets of a flow to the same one. `None` makes a new group with an id the
    /// kernel picks; `Some(id)` joins that group. Returns the group's id.
    ///
    /// Packets that arrived between [`LiveSource::open`] and the join were not shared out:
    /// the socket holds copies of them (see the caller).
    pub fn join_fanout(&self, group: Option<u16>) -> Result<u16, CaptureError> {
        let fail = |e: nix::errno::Errno| CaptureError::Live {
            message: format!(
                "{}: PACKET_FANOUT (one socket per shard) refused: {}{}",
                self.interface,
                e.desc(),
                match e {
                    nix::errno::Errno::ENOPROTOOPT | nix::errno::Errno::EINVAL => {
                        "; this platform cannot spread packets over sockets: use --threads 1"
                    }
                    _ => "",
                }
            ),
        };
        let arg = match group {
            Some(id) => usize::from(id) | (FANOUT_HASH_DEFRAG << 16),
            None => (FANOUT_HASH_DEFRAG | FANOUT_FLAG_UNIQUEID) << 16,
        };
        nix::sys::socket::setsockopt(&self.cap, PacketFanout, &arg).map_err(fail)?;
        match group {
            Some(id) => Ok(id),
            None => {
                let got = nix::sys::socket::getsockopt(&self.cap, PacketFanout).map_err(fail)?;
                Ok((got & 0xffff) as u16)
            }
        }
    }
}

/// Interfaces libpcap can capture on.
pub fn list_interfaces() -> Result<Vec<InterfaceInfo>, CaptureError> {
    let devices = pcap::Device::list().map_err(|e| CaptureError::Live {
        message: e.to_string(),
    })?;
    Ok(devices
        .into_iter()
        .map(|d| InterfaceInfo {
            is_up: d.flags.is_up(),
            is_loopback: d.flags.is_loopback(),
            name: d.name,
            description: d.desc,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_messages_are_recognised() {
        assert!(is_permission_error(
            "You don't have permission to perform this capture on that device (socket: Operation not permitted)"
        ));
        assert!(is_permission_error("eth0: socket: Operation not permitted"));
        assert!(!is_permission_error("No such device exists"));
        let e = open_error(
            "eth0",
            pcap::Error::PcapError("socket: Operation not permitted".into()),
        );
        assert!(matches!(e, CaptureError::Permission { .. }));
        let text = e.to_string();
        assert!(
            text.contains("CAP_NET_RAW") && text.contains("setcap"),
            "{text}"
        );
    }
}
