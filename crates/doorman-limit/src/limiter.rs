//! [`LocalLimiter`]: the in-process store of key states, sharded, capped, and swept of idle
//! keys, deciding with [`check_state`](crate::check_state).
//!
//! Each shard is a `std::sync::Mutex` over a compact table (`table.rs`). A decision locks one
//! shard for a lookup and a few arithmetic operations and never across an `.await` (the API is
//! synchronous), so the lock is held for tens of nanoseconds; with up to 64 shards two requests
//! rarely meet on one.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::table::{Table, mix};
use crate::window::{KeyState, Quota, Verdict, check_state};

/// Slots examined for idle keys on every insert of a new key below the cap (a removal counts
/// as one). The cursor then passes over a whole table of `s` slots holding `i` idle keys within
/// `(s + i)/4` inserts, fewer than the table holds (`s ≤ 1.57·len`), so idle keys cannot pile up
/// while new keys arrive, and an insert never does more than this much sweeping.
const SWEEP_STEP: usize = 4;
/// Entries compared when a full shard must evict one.
const EVICTION_SAMPLES: usize = 8;
/// At most this many shards (a power of two).
const MAX_SHARDS: usize = 64;
/// A shard is given at least about this many keys of the cap, so that uneven hashing across
/// shards (±1/√n) costs little of the cap.
const MIN_KEYS_PER_SHARD: usize = 1024;
/// A shard moves its table's epoch up to its clock once the clock is this far past it, so that
/// stored offsets stay exact (below 2^31 ms) for end times up to 2^30 ms ahead of the clock.
/// The move re-encodes every slot: once every 12 days per shard.
const REBASE_AFTER_MS: u64 = 1 << 30;

/// Counters of a [`LocalLimiter`], summed over its shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Keys currently tracked (idle ones not yet swept included).
    pub tracked: usize,
    /// Keys dropped because their shard was full and they were sampled as the nearest to being
    /// forgotten while still holding information.
    pub evicted: u64,
    /// Idle keys dropped (they held no information; dropping them changes no decision).
    pub expired: u64,
    /// Bytes of table storage allocated (slots × 20 bytes; the shard array is counted too).
    pub memory_bytes: usize,
}

/// The rate-limit state of every key this process tracks: the sliding-window counts and
/// mitigation blocks of the crate's algorithm.
///
/// `check` decides and records one request; `sweep` drops idle keys (call it from a timer, every
/// few seconds); `stats` reports. Cheap to share: wrap it in an `Arc`.
///
/// # Keys
/// A key is the caller's 64-bit hash of the rule id and the characteristic values (IP, header,
/// …). Two different inputs with the same hash share one budget. The limiter keeps 59 bits of
/// it (the slot needs the other 5), so with `n` keys tracked the chance that any two collide is
/// about `n²/2^60`: 9·10⁻⁷ at a million keys, 9·10⁻¹¹ at ten thousand. A collision can only
/// make two clients share a budget
/// (each gets less), never let one exceed its own. If clients can choose inputs freely, the hash
/// should be keyed (SipHash with a random key, as `std`'s `RandomState`), or a client could
/// search for an input that lands on someone else's key and spend their budget.
///
/// # Memory and the cap
/// A tracked key costs 20 bytes in a table kept between 0.64 and 0.8 full: 25–31.25 bytes per
/// key (see `table.rs`) once a shard holds more than a few dozen keys; the shard array adds
/// 128 bytes per shard (8 KiB at most). Idle keys (every count out of the window, no block
/// running) hold no information and are dropped: a few slots are swept on every insert, and all
/// of them by [`sweep`](Self::sweep).
///
/// The cap (`max_keys`, split evenly over the shards) bounds memory under a flood of new keys.
/// When a new key finds its shard full, the shard first drops its idle keys (a full pass, at
/// most once per quarter of the shard's cap in inserts, so its cost stays constant per insert);
/// if still full, it **evicts** one: of the 8 entries at and after the new key's home slot, the
/// unblocked one that has used the smallest share of its limit (ties: the one whose counts
/// leave the window first), or if all 8 are blocked, the one whose block and counts end first.
/// Keys sit in the table by hash, so these neighbours are unrelated keys, as good a sample as
/// random picks, and the lookup that just missed has already brought them into cache.
/// Evictions are counted in [`Stats::evicted`].
///
/// An evicted key comes back fresh, with a full burst: eviction forgives whatever its window
/// still held (at most `limit` units). The policy makes that cheap and rare for keys that are
/// limited by much. The share used is the sum of the counts over the lane maximum `2^b − 1`,
/// which lies within a factor of two of the limit (`b` is the limit's bit length), so no quota
/// is needed to compute it: a flood of new keys (one request each) sits far below any key that
/// has used most of its limit, so flood keys evict each other first. A limited key is evicted
/// only if every sampled entry has used at least about as much, which needs most of its
/// neighbourhood to be limited keys; a client choosing its keys to arrange that must spend the
/// budget of each key it plants, more than the one eviction forgives. Blocked keys go last of
/// all: evicting one would forgive its whole block.
///
/// # Time
/// Time is an input (`now_ms`, any epoch, the caller's clock). Each shard remembers the latest
/// `now_ms` it has seen and uses that if a call brings an earlier one (a clock stepped back), so
/// time never runs backwards for a key: decisions then are those of the last time seen.
#[derive(Debug)]
pub struct LocalLimiter {
    shards: Box<[CacheAligned]>,
    mask: usize,
    max_keys: usize,
}

/// One shard on its own cache lines, so that two cores working on neighbouring shards do not
/// fight over one line.
#[derive(Debug)]
#[repr(align(64))]
struct CacheAligned(Mutex<Shard>);

#[derive(Debug)]
struct Shard {
    table: Table,
    /// This shard's part of `max_keys`.
    cap: usize,
    /// The latest `now_ms` seen (the table's epoch is never after it).
    clock: u64,
    /// Where the incremental sweep goes on.
    cursor: usize,
    /// New keys inserted since the last full pass for idle keys.
    inserts_since_full_sweep: usize,
    expired: u64,
    evicted: u64,
}

impl LocalLimiter {
    /// A limiter tracking at most `max_keys` keys.
    ///
    /// # Panics
    /// If `max_keys` is 0: a limiter that can remember nothing would let everything through.
    pub fn new(max_keys: usize) -> LocalLimiter {
        assert!(
            max_keys > 0,
            "a rate limiter needs room for at least one key"
        );
        let shard_count = match max_keys / MIN_KEYS_PER_SHARD {
            0 => 1,
            n => (1 << n.ilog2()).min(MAX_SHARDS),
        };
        let shards = (0..shard_count)
            .map(|i| {
                // Split the cap exactly: the first `max_keys % shard_count` shards take one more.
                let cap = max_keys / shard_count + usize::from(i < max_keys % shard_count);
                CacheAligned(Mutex::new(Shard {
                    table: Table::default(),
                    cap,
                    clock: 0,
                    cursor: 0,
                    inserts_since_full_sweep: usize::MAX,
                    expired: 0,
                    evicted: 0,
                }))
            })
            .collect();
        LocalLimiter {
            shards,
            mask: shard_count - 1,
            max_keys,
        }
    }

    /// The cap on tracked keys.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Decides one request of `cost` units for `key` at `now_ms` under `quota`, and records it.
    /// `mitigation_timeout_ms > 0` blocks the key that long from its first denial; 0 throttles
    /// only. See [`check_state`](crate::check_state) for the exact behaviour; this adds
    /// storage.
    pub fn check(
        &self,
        key: u64,
        now_ms: u64,
        quota: Quota,
        cost: u32,
        mitigation_timeout_ms: u64,
    ) -> Verdict {
        let h = mix(key);
        let mut shard = self.shard(h);
        let now_ms = shard.observe(now_ms);
        match shard.table.find(h) {
            Some(i) => {
                let state = shard.table.state(i);
                let (verdict, next) =
                    check_state(Some(state), now_ms, quota, cost, mitigation_timeout_ms);
                match next {
                    // Written even when unchanged: cheaper than comparing.
                    Some(next) => shard.table.set(i, next),
                    None => {
                        // It was idle: nothing is lost by forgetting it now.
                        shard.table.remove_at(i);
                        shard.expired += 1;
                    }
                }
                verdict
            }
            None => {
                let (verdict, next) = check_state(None, now_ms, quota, cost, mitigation_timeout_ms);
                if let Some(next) = next {
                    shard.insert(h, next, now_ms);
                }
                verdict
            }
        }
    }

    /// Forgets `key` entirely (its counts and any block): the next request starts it afresh, as
    /// if never seen. What lifting a ban does. Returns whether the key was tracked.
    pub fn forget(&self, key: u64) -> bool {
        let h = mix(key);
        let mut shard = self.shard(h);
        match shard.table.find(h) {
            Some(i) => {
                shard.table.remove_at(i);
                true
            }
            None => false,
        }
    }

    /// Drops every idle key (all counts out of the window at `now_ms`, no block running) and
    /// gives memory back from tables that have become mostly empty. Locks one shard at a time.
    pub fn sweep(&self, now_ms: u64) {
        for shard in &self.shards {
            let mut shard = lock(shard);
            let now_ms = shard.observe(now_ms);
            shard.sweep_all(now_ms);
            shard.table.shrink_if_sparse();
        }
    }

    /// Counters summed over all shards (locks each briefly).
    pub fn stats(&self) -> Stats {
        let mut stats = Stats {
            memory_bytes: size_of_val(&*self.shards),
            ..Stats::default()
        };
        for shard in &self.shards {
            let shard = lock(shard);
            stats.tracked += shard.table.len();
            stats.evicted += shard.evicted;
            stats.expired += shard.expired;
            stats.memory_bytes += shard.table.bytes();
        }
        stats
    }

    fn shard(&self, h: u64) -> MutexGuard<'_, Shard> {
        // Low bits pick the shard; the table's home slot comes from the high bits.
        lock(&self.shards[h as usize & self.mask])
    }
}

/// Locks a shard. A panic while holding the lock cannot leave a table half-changed in a way
/// that matters (every change is a slot write or a completed shift), so a poisoned lock is used
/// as it is rather than failing every later request.
fn lock(shard: &CacheAligned) -> MutexGuard<'_, Shard> {
    shard.0.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shard {
    /// The time to decide at: never earlier than what this shard has already seen. Moves the
    /// table's epoch up when the clock has gone far past it.
    fn observe(&mut self, now_ms: u64) -> u64 {
        self.clock = self.clock.max(now_ms);
        if self.clock - self.table.epoch() >= REBASE_AFTER_MS {
            // Idle windows first: their end lies before the new epoch and would not encode.
            self.sweep_all(self.clock);
            self.table.rebase(self.clock);
        }
        self.clock
    }

    /// Inserts a key known to be absent, making room if the shard is at its cap.
    fn insert(&mut self, h: u64, state: KeyState, now_ms: u64) {
        if self.table.len() < self.cap {
            self.sweep_some(now_ms, SWEEP_STEP);
        } else {
            // At the cap the eviction below removes idle keys as well (they rank first), and
            // the full pass keeps them from accumulating elsewhere in the table.
            if self.inserts_since_full_sweep >= self.cap / 4 {
                self.sweep_all(now_ms);
            }
            if self.table.len() >= self.cap {
                self.evict_near(h, now_ms);
            }
        }
        self.table.insert_absent(h, state);
        self.inserts_since_full_sweep = self.inserts_since_full_sweep.saturating_add(1);
    }

    /// Examines `budget` slots from the sweep cursor, dropping idle keys. A removal pulls the
    /// next entry of the run into the same slot, so the cursor stays to look at it.
    fn sweep_some(&mut self, now_ms: u64, budget: usize) {
        let n = self.table.slot_count();
        if n == 0 {
            return;
        }
        for _ in 0..budget {
            if self.cursor >= n {
                self.cursor = 0;
            }
            if self.table.is_occupied(self.cursor) && self.table.state(self.cursor).is_idle(now_ms)
            {
                self.table.remove_at(self.cursor);
                self.expired += 1;
            } else {
                self.cursor += 1;
            }
        }
    }

    /// Drops every idle key in the shard. Removals only move entries not yet examined back
    /// towards `i` (or wrapped entries already examined), so one pass sees every entry.
    fn sweep_all(&mut self, now_ms: u64) {
        let mut i = 0;
        while i < self.table.slot_count() {
            if self.table.is_occupied(i) && self.table.state(i).is_idle(now_ms) {
                self.table.remove_at(i);
                self.expired += 1;
            } else {
                i += 1;
            }
        }
        self.inserts_since_full_sweep = 0;
    }

    /// Drops one entry chosen among the 8 at and after mixed key `h`'s home slot (see
    /// [`LocalLimiter`]'s docs for the policy). The shard is full, so it holds an entry.
    fn evict_near(&mut self, h: u64, now_ms: u64) {
        let n = self.table.slot_count();
        let start = self.table.home_slot(h);
        let mut victim: Option<(usize, (u8, u64, u64))> = None;
        let sampled = (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| self.table.is_occupied(i))
            .take(EVICTION_SAMPLES);
        for i in sampled {
            // Lowest first: idle states, then windows by share of the limit used (in 1/65536)
            // and end, then blocks by their end.
            let state = self.table.state(i);
            let rank = match state {
                _ if state.is_idle(now_ms) => (0, 0, 0),
                KeyState::Window(window) => {
                    let bits = u32::from(window.bits.clamp(1, 16));
                    (1, window.total() << (16 - bits), window.end_ms)
                }
                KeyState::Blocked { .. } => (2, 0, state.idle_at_ms()),
            };
            if victim.is_none_or(|(_, best)| rank < best) {
                victim = Some((i, rank));
            }
        }
        if let Some((i, _)) = victim {
            if self.table.state(i).is_idle(now_ms) {
                self.expired += 1;
            } else {
                self.evicted += 1;
            }
            self.table.remove_at(i);
        }
    }
}
