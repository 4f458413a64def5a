//! A bounded read buffer over any `Read`: the packet readers look at whole records inside it,
//! so that packets can be lent out without copying. It never holds the whole input, only a
//! window of it; it grows (up to a named cap) only when a single record is bigger than it.

use std::io::{self, Read};

/// What `InputBuffer::fill_to` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// At least the requested number of bytes are buffered.
    Ready,
    /// The input ended first; this many bytes remain buffered.
    Eof(usize),
}

pub(crate) struct InputBuffer {
    reader: Box<dyn Read + Send>,
    /// The window; `buf.len()` is the current capacity (all initialized).
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Input offset of `buf[start]`.
    offset: u64,
    /// The most the window may grow to.
    max_size: usize,
    eof: bool,
}

impl InputBuffer {
    pub(crate) fn new(reader: Box<dyn Read + Send>, initial: usize, max_size: usize) -> Self {
        let initial = initial.clamp(64, max_size.max(64));
        InputBuffer {
            reader,
            buf: vec![0; initial],
            start: 0,
            end: 0,
            offset: 0,
            max_size: max_size.max(initial),
            eof: false,
        }
    }

    /// The unconsumed buffered bytes.
    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// How many unconsumed bytes are buffered.
    #[inline]
    pub(crate) fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Input offset of the buffer byte at address `ptr` (of a slice `take` lent out).
    #[inline]
    pub(crate) fn offset_of(&self, ptr: usize) -> u64 {
        let at = ptr.wrapping_sub(self.buf.as_ptr() as usize);
        (self.offset - self.start as u64).wrapping_add(at as u64)
    }

    /// `len` bytes at input offset `at`, consumed since the last `fill_to` that had to read:
    /// until the next one, consumed bytes stay where they were. Empty when not buffered.
    #[inline]
    pub(crate) fn consumed(&self, at: u64, len: usize) -> &[u8] {
        let base = self.offset - self.start as u64;
        at.checked_sub(base)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.buf.get(i..i.checked_add(len)?))
            .unwrap_or(&[])
    }

    /// Input offset of the first unconsumed byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    /// How many bytes the window holds at most before it has to grow.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Marks `n` bytes as consumed (never more than are buffered).
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Consumes `n` bytes (at most what is buffered) and returns them. The slice stays valid
    /// until the next `fill_to`.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.end - self.start);
        let s = self.start;
        self.start += n;
        self.offset += n as u64;
        self.buf.get(s..s + n).unwrap_or(&[])
    }

    /// Makes sure at least `n` bytes are buffered, reading more if needed. `n` must not exceed
    /// `max_size` (callers check record lengths against their own, smaller, bounds first);
    /// a larger `n` is clamped and then reported as `Eof`.
    #[inline]
    pub(crate) fn fill_to(&mut self, n: usize) -> io::Result<Fill> {
        if self.end - self.start >= n {
            return Ok(Fill::Ready);
        }
        self.fill_slow(n)
    }

    #[cold]
    fn fill_slow(&mut self, n: usize) -> io::Result<Fill> {
        let n_clamped = n.min(self.max_size);
        if self.buf.len() - self.start < n_clamped {
            // Move the partial record to the front: at most one record's worth of bytes.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < n_clamped {
            // One record is bigger than the window: grow, but never past max_size.
            let new_len = n_clamped
                .max(self.buf.len().saturating_mul(2))
                .min(self.max_size);
            self.buf.resize(new_len, 0);
        }
        while !self.eof && self.end - self.start < n_clamped {
            let space = match self.buf.get_mut(self.end..) {
                Some(s) if !s.is_empty() => s,
                _ => break,
            };
            match self.reader.read(space) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k.min(space_len(&self.buf, self.end)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let have = self.end - self.start;
        if have >= n {
            Ok(Fill::Ready)
        } else {
            Ok(Fill::Eof(have))
        }
    }
}

fn space_len(buf: &[u8], end: usize) -> usize {
    buf.len().saturating_sub(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per call, as a pipe does.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
    }
    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let rest = self.data.get(self.pos..).unwrap_or(&[]);
            let k = rest.len().min(out.len()).min(self.chunk);
            out[..k].copy_from_slice(&rest[..k]);
            self.pos += k;
            Ok(k)
        }
    }

    #[test]
    fn fills_across_short_reads_and_grows_to_cap() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let r = Trickle {
            data: data.clone(),
            pos: 0,
            chunk: 7,
        };
        let mut b = InputBuffer::new(Box::new(r), 64, 512);
        assert_eq!(b.fill_to(10).unwrap(), Fill::Ready);
        assert_eq!(&b.data()[..10], &data[..10]);
        b.consume(10);
        assert_eq!(b.offset(), 10);
        // Bigger than the initial window: grows.
        assert_eq!(b.fill_to(300).unwrap(), Fill::Ready);
        assert!(b.capacity() >= 300 && b.capacity() <= 512);
        assert_eq!(&b.data()[..300], &data[10..310]);
        b.consume(300);
        // More than the cap: clamped, reported as not available.
        assert!(matches!(b.fill_to(600).unwrap(), Fill::Eof(_)));
        assert!(b.capacity() <= 512);
        b.consume(b.data().len());
        assert_eq!(
            b.fill_to(1000).unwrap(),
            Fill::Eof(1000 - b.offset() as usize)
        );
        let left = b.data().len();
        b.consume(left);
        assert_eq!(b.offset(), 1000);
        assert_eq!(b.fill_to(1).unwrap(), Fill::Eof(0));
    }
}
