//! TEMPORARY stand-in with the agreed interface (in-order delivery only); replaced by the
//! real reassembler.
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqNumber(pub u32);

pub enum Chunk<'a> {
    Data {
        offset: u64,
        bytes: &'a [u8],
        frame: u64,
        ts: Timestamp,
    },
    Gap {
        offset: u64,
        len: u64,
    },
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    More,
    Skip(u64),
    Done,
}

#[derive(Clone, Debug, Default)]
pub struct ReassemblyLimits {
    pub max_ooo_bytes_per_conn: usize,
    pub max_ooo_segments_per_dir: usize,
}

#[derive(Debug, Default)]
pub struct MemBudget {
    pub used: usize,
    pub cap: usize,
}

impl MemBudget {
    pub fn new(cap: usize) -> Self {
        MemBudget { used: 0, cap }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SegmentOutcome {
    pub new_bytes: u32,
    pub retransmitted_bytes: u32,
    pub out_of_order: bool,
    pub overlap_conflict: bool,
    pub dropped_bytes: u32,
}

#[derive(Debug)]
pub struct Reassembler {
    next: u32,
    offset: u64,
    skip: u64,
    done: bool,
    ended: bool,
    missed: u64,
}

impl Reassembler {
    pub fn new(first_seq: SeqNumber) -> Self {
        Reassembler {
            next: first_seq.0,
            offset: 0,
            skip: 0,
            done: false,
            ended: false,
            missed: 0,
        }
    }
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: SeqNumber,
        payload: &[u8],
        wire_len: u32,
        frame: u64,
        ts: Timestamp,
        _budget: &mut MemBudget,
        _limits: &ReassemblyLimits,
        sink: &mut dyn FnMut(Chunk<'_>) -> Want,
    ) -> SegmentOutcome {
        let mut out = SegmentOutcome::default();
        let d = seq.0.wrapping_sub(self.next) as i32;
        if d != 0 || self.done {
            return out;
        }
        let _ = wire_len;
        self.next = self.next.wrapping_add(payload.len() as u32);
        out.new_bytes = payload.len() as u32;
        let mut p = payload;
        if self.skip > 0 {
            let n = (self.skip.min(p.len() as u64)) as usize;
            self.skip -= n as u64;
            self.offset += n as u64;
            p = p.get(n..).unwrap_or(&[]);
        }
        if !p.is_empty() {
            match sink(Chunk::Data {
                offset: self.offset,
                bytes: p,
                frame,
                ts,
            }) {
                Want::More => {}
                Want::Skip(n) => self.skip = n,
                Want::Done => self.done = true,
            }
            self.offset += p.len() as u64;
        }
        out
    }
    pub fn ack_beyond_hole(
        &mut self,
        _ack: SeqNumber,
        _budget: &mut MemBudget,
        _sink: &mut dyn FnMut(Chunk<'_>) -> Want,
    ) {
    }
    pub fn finish(&mut self, _budget: &mut MemBudget, sink: &mut dyn FnMut(Chunk<'_>) -> Want) {
        if !self.ended && !self.done {
            self.ended = true;
            let _ = sink(Chunk::End);
        }
    }
    pub fn missed_bytes(&self) -> u64 {
        self.missed
    }
    pub fn buffered_bytes(&self) -> usize {
        0
    }
}
