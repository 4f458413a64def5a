//! A `ShardedEngine` emits what one `Engine` emits, event for event and in the same order,
//! with the same counters: every kind of event, on every fixture capture and on the public
//! and scenario captures beside the repository.
mod common;

use modsniff_core::{Config, Engine, Event, EventMask, FellBack, Limits, ShardedEngine, Stats};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Sharded runs that fell back to one engine (a shard's share of a bound acted).
static FELL_BACK: AtomicUsize = AtomicUsize::new(0);

/// An event as compared. A connection's chain-validation work counters are left out: the
/// shards share one cache of validated chains, and which of two connections with the same
/// chain (in different shards) validated it and which found it in the cache depends on the
/// threads' timing. Their sum over the run (`Stats::x509`) and every validation result are
/// compared.
fn shown(e: &Event) -> String {
    match e {
        Event::Connection(c) if c.tls.is_some() => {
            let mut c = c.clone();
            if let Some(t) = c.tls.as_mut() {
                t.chain = Default::default();
            }
            format!("{:?}", Event::Connection(c))
        }
        e => format!("{e:?}"),
    }
}

fn one(path: &Path, config: &Config) -> Option<(Vec<String>, Stats)> {
    let mut engine = Engine::new(config.clone());
    let mut events: Vec<Event> = Vec::new();
    if !common::for_each_packet(path, |p| engine.push(&p, &mut events)) {
        return None;
    }
    let stats = engine.finish(&mut events);
    Some((events.iter().map(shown).collect(), stats))
}

/// The sharded engine as `read --threads N` drives it: when it falls back, one engine reads
/// the capture again from the start and only its events from the packet where the shards
/// stopped are kept. `local`: shard 0 runs on this thread (`ShardedEngine::new_local`).
fn sharded(path: &Path, config: &Config, shards: usize, local: bool) -> (Vec<String>, Stats) {
    let mut engine = if local {
        ShardedEngine::new_local(config.clone(), shards)
    } else {
        ShardedEngine::new(config.clone(), shards)
    };
    let mut events: Vec<Event> = Vec::new();
    common::for_each_packet(path, |p| engine.push(&p, &mut events));
    let stats = match engine.finish(&mut events) {
        Ok(stats) => stats,
        Err(FellBack { from }) => {
            FELL_BACK.fetch_add(1, Ordering::Relaxed);
            let mut one = Engine::new(config.clone());
            let mut before: Vec<Event> = Vec::new();
            let mut index = 0u64;
            common::for_each_packet(path, |p| {
                if index < from {
                    one.push(&p, &mut before);
                    before.clear();
                } else {
                    one.push(&p, &mut events);
                }
                index += 1;
            });
            one.finish(&mut events)
        }
    };
    (events.iter().map(shown).collect(), stats)
}

fn captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut all = common::pcaps_under(&root);
    assert!(all.len() > 40, "the fixtures are there ({})", all.len());
    match common::shared() {
        Some(s) => {
            all.extend(common::pcaps_under(&s.join("pcaps/public")));
            all.extend(common::pcaps_under(&s.join("scenarios")));
        }
        None => eprintln!("SKIP public and scenario captures: ../shared is absent"),
    }
    all
}

fn check(config: &Config, shard_counts: &[usize]) -> usize {
    let mut n = 0;
    for cap in captures() {
        let Some((want, want_stats)) = one(&cap, config) else {
            continue;
        };
        for &shards in shard_counts {
            for local in [false, true] {
                let (got, stats) = sharded(&cap, config, shards, local);
                if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i))
                {
                    panic!(
                        "{}, {shards} shards (local {local}): event {i} differs\n  one engine: {:?}\n  sharded:    {:?}",
                        cap.display(),
                        want.get(i),
                        got.get(i)
                    );
                }
                assert_eq!(
                    want_stats,
                    stats,
                    "{}, {shards} shards (local {local}): stats",
                    cap.display()
                );
            }
        }
        n += 1;
    }
    n
}

#[test]
fn every_event_in_one_engines_order() {
    let config = Config {
        events: EventMask::ALL,
        ..Config::default()
    };
    let n = check(&config, &[2, 3, 4]);
    assert!(n > 40, "only {n} captures read");
}

/// Names from DNS answers are the merge's: a cache of one name is reset at nearly every
/// answer, and the connections it names (or leaves unnamed) must still be one engine's.
#[test]
fn names_cache_bound_kept_by_the_merge() {
    let config = Config {
        limits: Limits {
            max_dns_names: 1,
            ..Limits::default()
        },
        ..Config::default()
    };
    check(&config, &[2]);
}

/// Bounds small enough to act on many captures: the shards fall back to one engine (from
/// the packet where a shard's share first acted, or from the start when a bound is smaller
/// than the number of shards) and the events are still one engine's.
#[test]
fn bounds_reached_fall_back_to_one_engine() {
    let before = FELL_BACK.load(Ordering::Relaxed);
    for limits in [
        Limits {
            max_flows: 4,
            ..Limits::default()
        },
        Limits {
            memcap: 3,
            ..Limits::default()
        },
        // Smaller than the number of shards: one engine from the start.
        Limits {
            memcap: 1,
            ..Limits::default()
        },
        Limits {
            max_closed_lingering: 2,
            max_dns_open_queries: 2,
            ..Limits::default()
        },
    ] {
        let config = Config {
            events: EventMask::ALL,
            limits,
            ..Config::default()
        };
        check(&config, &[2, 3]);
    }
    // Other tests of this file may run at the same time and fall back too (they should
    // not: their bounds are the defaults): at least this test's own runs did.
    let fell = FELL_BACK.load(Ordering::Relaxed) - before;
    assert!(fell > 10, "only {fell} runs fell back");
}
