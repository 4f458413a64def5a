//! What the decoders of live connections keep, bounded over the whole run
//! ([`crate::Limits::max_kept_bytes`]).
//!
//! Each decoder bounds what it keeps for its own connection (transactions, header blocks,
//! certificate names), but those bounds multiply by the number of live connections: 16,384
//! connections each keeping 1,024 HTTP transactions would hold gigabytes. So every decoder
//! also charges what it keeps to one pool shared by the run ([`KeptPool`]), through a
//! [`KeptShare`] that gives its part back when the decoder is dropped (its connection ended
//! and its results were taken). Beyond the pool the decoder keeps less (a transaction is
//! counted, not kept; certificate names beyond what fits are counted, not kept; a header
//! block is not buffered and its side is given up) and counts a refusal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Bytes kept by all the decoders of a run.
#[derive(Debug, Default)]
pub struct KeptPool {
    used: AtomicUsize,
    /// A claim or check has been refused: the bound has acted.
    refused: AtomicBool,
}

impl KeptPool {
    /// Whether the pool has refused anything yet.
    pub fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    fn try_claim(&self, n: usize, cap: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                u.checked_add(n).filter(|t| *t <= cap)
            })
            .is_ok()
    }

    fn add(&self, n: usize) {
        self.used.fetch_add(n, Ordering::Relaxed);
    }

    fn release(&self, n: usize) {
        // Nothing held: no atomic write to the line every decoder shares.
        if n == 0 {
            return;
        }
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
    }

    /// Bytes held now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// The part of `cap` what stays kept until its connection ends (transactions, certificate
/// descriptions) may fill: three quarters, so that header blocks being read and requests
/// waiting for their answer still find room when kept results have filled theirs.
pub fn kept_to_the_end(cap: usize) -> usize {
    cap - cap / 4
}

/// One decoder's part of the run's [`KeptPool`]: what it holds, given back on drop.
#[derive(Debug)]
pub struct KeptShare {
    pool: Arc<KeptPool>,
    cap: usize,
    held: usize,
    refusals: u64,
}

impl Default for KeptShare {
    /// A share of a pool of its own without a cap: a decoder used on its own.
    fn default() -> Self {
        KeptShare::new(&Arc::default(), usize::MAX)
    }
}

impl KeptShare {
    /// A share of `pool`, which holds at most `cap` bytes for all its users.
    pub fn new(pool: &Arc<KeptPool>, cap: usize) -> Self {
        KeptShare {
            pool: Arc::clone(pool),
            cap,
            held: 0,
            refusals: 0,
        }
    }

    /// Claims `n` bytes if the pool stays within its cap; a refusal is counted.
    pub fn claim(&mut self, n: usize) -> bool {
        if self.pool.try_claim(n, self.cap) {
            self.held = self.held.saturating_add(n);
            true
        } else {
            self.refusals += 1;
            self.pool.refused.store(true, Ordering::Relaxed);
            false
        }
    }

    /// Charges `n` bytes whatever the cap: for what is kept in any case (bounded by the
    /// decoder's own limits), so that later claims see it.
    pub fn force(&mut self, n: usize) {
        self.pool.add(n);
        self.held = self.held.saturating_add(n);
    }

    /// Whether `n` more bytes would fit now (nothing claimed); a `false` is counted as a
    /// refusal. For growth that [`KeptShare::hold`] accounts afterwards.
    pub fn fits(&mut self, n: usize) -> bool {
        let fits = self
            .pool
            .used
            .load(Ordering::Relaxed)
            .checked_add(n)
            .is_some_and(|t| t <= self.cap);
        if !fits {
            self.refusals += 1;
            self.pool.refused.store(true, Ordering::Relaxed);
        }
        fits
    }

    /// Sets what this share holds to `n` bytes, claiming or giving back the difference
    /// (growth was checked with [`KeptShare::fits`] before it happened).
    pub fn hold(&mut self, n: usize) {
        if n > self.held {
            self.pool.add(n - self.held);
        } else {
            self.pool.release(self.held - n);
        }
        self.held = n;
    }

    /// Claims and checks refused so far.
    pub fn refusals(&self) -> u64 {
        self.refusals
    }
}

impl Drop for KeptShare {
    fn drop(&mut self) {
        self.pool.release(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_give_back_what_they_hold() {
        let pool = Arc::new(KeptPool::default());
        let mut a = KeptShare::new(&pool, 100);
        let mut b = KeptShare::new(&pool, 100);
        assert!(a.claim(60));
        assert!(!b.claim(50));
        assert!(!b.fits(41));
        assert!(b.fits(40));
        b.hold(40);
        assert_eq!(pool.used(), 100);
        assert_eq!((a.refusals(), b.refusals()), (0, 2));
        drop(a);
        assert_eq!(pool.used(), 40);
        b.hold(10);
        assert_eq!(pool.used(), 10);
        drop(b);
        assert_eq!(pool.used(), 0);
    }
}
