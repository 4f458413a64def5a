//! IP fragment reassembly (IPv4 and IPv6), bounded in datagrams, bytes and time.
//!
//! Overlapping fragments keep the first copy's bytes (as the reassembler does for TCP) and
//! are counted as an anomaly. A datagram that does not complete within `frag_timeout`, or is
//! pushed out by `max_frag_datagrams`, is dropped and counted in `stats.ip_fragments_dropped`.

use crate::config::Limits;
use crate::stats::Stats;
use crate::time::Timestamp;
use crate::wire::decode::Fragment;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

#[derive(Debug)]
struct Datagram {
    first_ts: Timestamp,
    data: Vec<u8>,
    /// Received byte ranges [start, end), sorted and merged.
    have: Vec<(u32, u32)>,
    /// Known once the last fragment (MF clear) arrived.
    total: Option<u32>,
}

impl Datagram {
    fn add(&mut self, offset: u32, payload: &[u8]) -> bool {
        let start = offset;
        let end = offset.saturating_add(payload.len() as u32);
        let mut overlapped = false;
        if self.data.len() < end as usize {
            self.data.resize(end as usize, 0);
        }
        // Copy only the bytes no earlier fragment supplied (first wins).
        let mut cursor = start;
        let holes: Vec<(u32, u32)> = {
            let mut v = Vec::new();
            for &(s, e) in &self.have {
                if e <= cursor || s >= end {
                    continue;
                }
                overlapped = true;
                if s > cursor {
                    v.push((cursor, s.min(end)));
                }
                cursor = cursor.max(e);
            }
            if cursor < end {
                v.push((cursor, end));
            }
            v
        };
        for (s, e) in holes {
            let src = payload.get((s - start) as usize..(e - start) as usize);
            let dst = self.data.get_mut(s as usize..e as usize);
            if let (Some(src), Some(dst)) = (src, dst) {
                dst.copy_from_slice(src);
            }
        }
        self.have.push((start, end));
        self.have.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
        overlapped
    }

    fn complete(&self) -> bool {
        matches!((self.total, self.have.as_slice()), (Some(t), [(0, e)]) if *e >= t)
    }
}

/// Reassembles fragmented IP datagrams.
#[derive(Debug, Default)]
pub struct Defragmenter {
    table: FxHashMap<FragKey, Datagram>,
    /// Arrival order, for timeouts and for evicting the oldest when full.
    order: VecDeque<(Timestamp, FragKey)>,
}

impl Defragmenter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a fragment; returns the whole transport payload when the datagram is complete.
    pub fn push(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        frag: &Fragment<'_>,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
    ) -> Option<Vec<u8>> {
        stats.ip_fragments += 1;
        self.expire(ts, limits, stats);
        let key = FragKey {
            src,
            dst,
            id: frag.id,
            proto: frag.proto,
        };
        let end = frag.offset as usize + frag.payload.len();
        if end > limits.max_frag_bytes {
            stats.ip_fragments_dropped += 1;
            stats.anomaly("fragment_too_large");
            if let Some(d) = self.table.remove(&key) {
                stats.ip_fragments_dropped += d.have.len() as u64;
            }
            return None;
        }
        if !self.table.contains_key(&key) {
            while self.table.len() >= limits.max_frag_datagrams {
                let Some((_, old)) = self.order.pop_front() else {
                    break;
                };
                if self.table.remove(&old).is_some() {
                    stats.ip_fragments_dropped += 1;
                }
            }
            self.table.insert(
                key,
                Datagram {
                    first_ts: ts,
                    data: Vec::new(),
                    have: Vec::new(),
                    total: None,
                },
            );
            self.order.push_back((ts, key));
            // Datagrams that completed leave their entry here until it reaches the front;
            // a flood of small fragmented datagrams would grow the queue without bound
            // within one timeout. Compacting at 4x the table bound keeps it O(limit) and
            // costs amortised O(1) per datagram.
            if self.order.len() > limits.max_frag_datagrams.saturating_mul(4).max(64) {
                let table = &self.table;
                self.order
                    .retain(|(t, k)| table.get(k).is_some_and(|d| d.first_ts == *t));
            }
        }
        let d = self.table.get_mut(&key)?;
        if d.add(frag.offset, frag.payload) {
            stats.anomaly("fragment_overlap");
        }
        if !frag.more {
            d.total = Some(end as u32);
        }
        if d.complete() {
            let mut d = self.table.remove(&key)?;
            d.data.truncate(d.total.unwrap_or(0) as usize);
            stats.ip_reassembled += 1;
            return Some(d.data);
        }
        None
    }

    /// Drops datagrams older than the fragment timeout.
    pub fn expire(&mut self, now: Timestamp, limits: &Limits, stats: &mut Stats) {
        while let Some(&(ts, key)) = self.order.front() {
            if now.since(ts) < limits.frag_timeout {
                break;
            }
            self.order.pop_front();
            if let Some(d) = self.table.get(&key)
                && d.first_ts == ts
            {
                self.table.remove(&key);
                stats.ip_fragments_dropped += 1;
            }
        }
    }

    pub fn pending(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: u32, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            v6: false,
            id: 7,
            offset,
            more,
            proto: 17,
            payload,
        }
    }

    #[test]
    fn reassembles_out_of_order_with_overlap() {
        let (mut d, l, mut s) = (Defragmenter::new(), Limits::default(), Stats::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let data: Vec<u8> = (0..40u8).collect();
        assert!(
            d.push(
                a,
                b,
                &frag(16, true, &data[16..32]),
                Timestamp::ZERO,
                &l,
                &mut s
            )
            .is_none()
        );
        assert!(
            d.push(
                a,
                b,
                &frag(32, false, &data[32..]),
                Timestamp::ZERO,
                &l,
                &mut s
            )
            .is_none()
        );
        // Overlapping first fragment with different bytes in the overlap: first copy wins.
        let mut first = data[..24].to_vec();
        first[20] = 0xff;
        let out = d
            .push(a, b, &frag(0, true, &first), Timestamp::ZERO, &l, &mut s)
            .unwrap();
        assert_eq!(out, data);
        assert_eq!(s.anomalies.get("fragment_overlap"), Some(&1));
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn bounded_and_timed_out() {
        let l = Limits {
            max_frag_datagrams: 2,
            ..Limits::default()
        };
        let (mut d, mut s) = (Defragmenter::new(), Stats::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for id in 0..10u32 {
            let f = Fragment {
                v6: false,
                id,
                offset: 0,
                more: true,
                proto: 6,
                payload: &[1, 2, 3, 4, 5, 6, 7, 8],
            };
            d.push(a, a, &f, Timestamp::ZERO, &l, &mut s);
        }
        assert_eq!(d.pending(), 2);
        assert_eq!(s.ip_fragments_dropped, 8);
        d.expire(Timestamp::from_nanos(31_000_000_000), &l, &mut s);
        assert_eq!(d.pending(), 0);
    }
}
