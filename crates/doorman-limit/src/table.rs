//! The compact hash table behind one shard of the [`LocalLimiter`](crate::LocalLimiter): open
//! addressing with linear probing over 20-byte slots, so that a tracked key costs at most 32
//! bytes including the table's empty slots.
//!
//! Why not `std::collections::HashMap<u64, State>`: its bucket count is a power of two and it
//! grows by doubling at 7/8 load, so its load swings between 7/16 and 7/8: with a 12-byte state
//! (21 bytes per bucket with the control byte) that is 24–48 bytes per key. Here the slot count
//! is any integer (the home slot is found by multiply-shift, not by masking), the table grows by
//! 1.25× at 0.8 load, so the load stays within 0.64–0.8 and a key costs 25–31.25 bytes.
//!
//! Slot layout (`repr(packed(4))`, 20 bytes): `key` (u64), `t` (u32), `x` (u64).
//! - `key`: the caller's key after [`mix`], 59 bits; bit 63 says "blocked"; bits 59–62 hold the
//!   lane width minus 1 of a window state.
//! - window: `t` = end time, `x` = the lanes.
//! - blocked: `t` = block end; `x` = end time of the summarized counts (low 32 bits) and their
//!   total (bits 32–47).
//! - times are stored as offsets from the table's `epoch` ([`encode_offset`]): exact below 2^31
//!   ms (24.8 days), beyond that rounded *up* to 25 significant bits, so a decoded time is never
//!   earlier than the real one (a count is never forgiven early, a block never shortened). The
//!   shard moves the epoch up to its clock before the clock gets 2^30 ms past it
//!   ([`Table::rebase`]), so an end time is exact while it lies less than 2^30 ms (12.4 days)
//!   ahead: periods up to about 6 days, mitigation timeouts up to 12 days.
//! - empty: `t` zero and not blocked. A stored window's end lies after the clock that stored it
//!   (idle states are dropped, not stored), and the clock is never before the epoch, so its
//!   offset is at least 1.
//!
//! Deletion shifts the following entries of the run back (no tombstones), so a table that has
//! seen any number of removals probes exactly as one freshly built.

use crate::window::{KeyState, Window};

/// The top bit of a stored key: the slot holds a blocked state.
const BLOCKED: u64 = 1 << 63;
/// Where a window's lane width (minus 1) sits in the stored key.
const WIDTH_SHIFT: u32 = 59;
/// The bits of a key that the table keeps (59).
pub(crate) const KEY_MASK: u64 = (1 << WIDTH_SHIFT) - 1;

/// The smallest table that is ever allocated.
const MIN_SLOTS: usize = 8;

/// Offsets below this are stored exactly.
const EXACT_OFFSET: u64 = 1 << 31;
/// Significant bits kept for larger offsets.
const MANTISSA_BITS: u32 = 25;

/// The caller's 64-bit key, remixed (murmur3's finalizer: a bijection, so distinct keys stay
/// distinct) and cut to 59 bits.
///
/// The caller's key is already a hash, but nothing guarantees its low and high bits are equally
/// good, and the limiter takes the shard from the low bits and the home slot from the high
/// ones. Two multiplies cost about a nanosecond. Keeping 59 bits leaves room in the slot for the
/// blocked flag and the lane width; collision odds among `n` keys are about `n²/2^60`.
pub(crate) const fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x & KEY_MASK
}

/// The home slot of a mixed key in a table of `n` slots: its high bits scaled to `0..n`
/// (multiply-shift), which works for any `n`, not just powers of two.
fn home(h: u64, n: usize) -> usize {
    // `h` has 59 bits; shift them to the top so the whole key takes part.
    let scaled = (u128::from(h << (u64::BITS - WIDTH_SHIFT)) * n as u128) >> 64;
    // Below `n`, a usize.
    usize::try_from(scaled).unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(4))]
struct Slot {
    key: u64,
    t: u32,
    x: u64,
}

const EMPTY: Slot = Slot { key: 0, t: 0, x: 0 };

impl Slot {
    fn is_empty(self) -> bool {
        self.t == 0 && self.key & BLOCKED == 0
    }

    fn mixed_key(self) -> u64 {
        self.key & KEY_MASK
    }

    #[inline]
    fn pack(h: u64, state: KeyState, epoch: u64) -> Slot {
        match state {
            KeyState::Window(window) => Slot {
                key: h | (u64::from(window.bits.clamp(1, 16) - 1) << WIDTH_SHIFT),
                t: encode_offset(window.end_ms.saturating_sub(epoch)),
                x: window.lanes,
            },
            KeyState::Blocked {
                until_ms,
                end_ms,
                total,
            } => Slot {
                key: h | BLOCKED,
                t: encode_offset(until_ms.saturating_sub(epoch)),
                x: u64::from(encode_offset(end_ms.saturating_sub(epoch))) | u64::from(total) << 32,
            },
        }
    }

    #[inline]
    fn unpack(self, epoch: u64) -> KeyState {
        let time = |offset: u32| epoch.saturating_add(decode_offset(offset));
        if self.key & BLOCKED == 0 {
            KeyState::Window(Window {
                end_ms: time(self.t),
                // Four bits: 1..=16.
                bits: ((self.key >> WIDTH_SHIFT) & 0xf) as u8 + 1,
                lanes: self.x,
            })
        } else {
            // A time before the epoch was stored as the epoch: both lie before every time the
            // shard will decide at, so they decide alike.
            KeyState::Blocked {
                until_ms: time(self.t),
                end_ms: time(self.x as u32),
                total: (self.x >> 32) as u16,
            }
        }
    }
}

/// A non-negative offset in ms as 32 bits: exact below 2^31, else `1 | exponent(6) |
/// mantissa(25)` rounded up.
fn encode_offset(d: u64) -> u32 {
    if d < EXACT_OFFSET {
        return d as u32;
    }
    let bits = u64::BITS - d.leading_zeros();
    let mut e = bits - MANTISSA_BITS;
    let mut m = d.div_ceil(1 << e);
    if m >> MANTISSA_BITS != 0 {
        // Rounding up carried into a 26th bit.
        e += 1;
        m = d.div_ceil(1 << e);
    }
    (1 << 31) | (e << MANTISSA_BITS) | m as u32
}

/// The inverse of [`encode_offset`], never below the encoded value, saturating.
fn decode_offset(b: u32) -> u64 {
    if b & (1 << 31) == 0 {
        return u64::from(b);
    }
    let e = (b >> MANTISSA_BITS) & 0x3f;
    let m = u64::from(b & ((1 << MANTISSA_BITS) - 1));
    if m.leading_zeros() < e {
        u64::MAX
    } else {
        m << e
    }
}

/// One shard's keys and states.
#[derive(Debug, Default)]
pub(crate) struct Table {
    slots: Vec<Slot>,
    len: usize,
    /// The time stored offsets count from.
    epoch: u64,
}

impl Table {
    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated (entries plus empty slots).
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Bytes of slot storage allocated.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
    }

    /// Where mixed key `h`'s probe starts (the table must have slots).
    pub(crate) fn home_slot(&self, h: u64) -> usize {
        home(h, self.slots.len())
    }

    /// The slot holding mixed key `h`.
    pub(crate) fn find(&self, h: u64) -> Option<usize> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let mut i = home(h, n);
        loop {
            let slot = self.slots[i];
            if slot.is_empty() {
                return None;
            }
            if slot.mixed_key() == h {
                return Some(i);
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    /// Whether slot `i` holds an entry.
    pub(crate) fn is_occupied(&self, i: usize) -> bool {
        !self.slots[i].is_empty()
    }

    /// The state in occupied slot `i`.
    #[inline]
    pub(crate) fn state(&self, i: usize) -> KeyState {
        self.slots[i].unpack(self.epoch)
    }

    /// Replaces the state in occupied slot `i`. Its times must not lie before the epoch if it
    /// is a window (an idle state is dropped, not stored).
    #[inline]
    pub(crate) fn set(&mut self, i: usize, state: KeyState) {
        let h = self.slots[i].mixed_key();
        self.slots[i] = Slot::pack(h, state, self.epoch);
    }

    /// The time stored offsets count from.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Moves the epoch forward to `epoch` and re-encodes every slot from it. Windows idle at
    /// `epoch` must have been removed first: their end would encode as 0, an empty slot.
    pub(crate) fn rebase(&mut self, epoch: u64) {
        let old = self.epoch;
        self.epoch = epoch.max(old);
        for i in 0..self.slots.len() {
            let slot = self.slots[i];
            if !slot.is_empty() {
                let state = slot.unpack(old);
                debug_assert!(matches!(state, KeyState::Blocked { .. }) || !state.is_idle(epoch));
                self.slots[i] = Slot::pack(slot.mixed_key(), state, self.epoch);
            }
        }
    }

    /// Adds mixed key `h`, which must not be present, growing the table if needed.
    pub(crate) fn insert_absent(&mut self, h: u64, state: KeyState) {
        debug_assert!(self.find(h).is_none());
        let n = self.slots.len();
        if (self.len + 1) * 5 > n * 4 {
            let mut m = (n + n / 4 + 1).max(MIN_SLOTS);
            while (self.len + 1) * 5 > m * 4 {
                m += m / 4 + 1;
            }
            self.resize(m);
        }
        self.place(Slot::pack(h, state, self.epoch));
    }

    /// Removes the entry in occupied slot `i`, shifting the rest of its run back so no lookup
    /// ever stops early at the hole.
    pub(crate) fn remove_at(&mut self, mut hole: usize) {
        let n = self.slots.len();
        let mut j = hole;
        loop {
            j += 1;
            if j == n {
                j = 0;
            }
            let slot = self.slots[j];
            if slot.is_empty() {
                break;
            }
            // The entry at j may fill the hole if the hole lies between its home and j
            // (cyclically): then it is no further from home there than it is now.
            let from_home = (j + n - home(slot.mixed_key(), n)) % n;
            let from_hole = (j + n - hole) % n;
            if from_home >= from_hole {
                self.slots[hole] = slot;
                hole = j;
            }
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
    }

    /// Rebuilds with room for the current entries at a load of about 0.7, when the table has
    /// become mostly empty (below 1/4 load), so memory follows the number of tracked keys back
    /// down after a flood.
    pub(crate) fn shrink_if_sparse(&mut self) {
        let n = self.slots.len();
        if n > MIN_SLOTS && self.len * 4 < n {
            let m = (self.len * 10 / 7 + 1).max(MIN_SLOTS);
            if self.len == 0 {
                self.slots = Vec::new();
            } else {
                self.resize(m);
            }
        }
    }

    fn resize(&mut self, m: usize) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; m]);
        self.len = 0;
        for slot in old {
            if !slot.is_empty() {
                self.place(slot);
            }
        }
    }

    /// Puts a slot at the first free place from its home (there is one: load ≤ 0.8).
    fn place(&mut self, slot: Slot) {
        let n = self.slots.len();
        let mut i = home(slot.mixed_key(), n);
        while !self.slots[i].is_empty() {
            i += 1;
            if i == n {
                i = 0;
            }
        }
        self.slots[i] = slot;
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A small fixed-seed PRNG (xorshift64*), enough to drive random operations.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn window(end_ms: u64) -> KeyState {
        KeyState::Window(Window {
            end_ms,
            bits: 4,
            lanes: 1,
        })
    }

    #[test]
    fn slot_is_20_bytes() {
        assert_eq!(size_of::<Slot>(), 20);
    }

    #[test]
    fn mix_is_a_bijection_on_samples_and_keeps_59_bits() {
        let mut seen = std::collections::HashSet::new();
        let mut s = 7;
        for _ in 0..10_000 {
            let h = mix(rng(&mut s));
            assert_eq!(h & !KEY_MASK, 0);
            assert!(seen.insert(h));
        }
    }

    #[test]
    fn offset_encoding_is_exact_below_2_31_and_never_rounds_down() {
        for d in [0, 1, 2, 1000, EXACT_OFFSET - 1] {
            assert_eq!(decode_offset(encode_offset(d)), d);
        }
        let mut s = 99;
        for d in [
            EXACT_OFFSET,
            (1 << 33) - 1,
            1 << 40,
            u64::MAX / 3,
            u64::MAX - 1,
            u64::MAX,
        ]
        .into_iter()
        .chain((0..10_000).map(|_| rng(&mut s) >> (rng(&mut s) % 33)))
        {
            let back = decode_offset(encode_offset(d));
            assert!(back >= d, "{d} came back as {back}");
            // 25 significant bits: relative error below 2^-24.
            assert!(back - d <= (d >> 24) + 1, "{d} came back as {back}");
        }
    }

    #[test]
    fn pack_round_trips() {
        let h = mix(42);
        let epoch = 1_700_000_000_000;
        for state in [
            window(epoch + 5),
            KeyState::Window(Window {
                end_ms: epoch + (1 << 31) - 1,
                bits: 16,
                lanes: u64::MAX,
            }),
            KeyState::Window(Window {
                end_ms: epoch + 1,
                bits: 1,
                lanes: 1 << 63,
            }),
            KeyState::Blocked {
                until_ms: epoch + 10,
                end_ms: epoch + 30,
                total: 65_535,
            },
            KeyState::Blocked {
                until_ms: epoch + 1,
                end_ms: epoch + 1,
                total: 1,
            },
        ] {
            let slot = Slot::pack(h, state, epoch);
            assert!(!slot.is_empty());
            assert_eq!(slot.mixed_key(), h);
            assert_eq!(slot.unpack(epoch), state);
        }
        // Times before the epoch in a block read back as the epoch: both are past.
        let slot = Slot::pack(
            h,
            KeyState::Blocked {
                until_ms: epoch - 50,
                end_ms: epoch - 20,
                total: 3,
            },
            epoch,
        );
        assert_eq!(
            slot.unpack(epoch),
            KeyState::Blocked {
                until_ms: epoch,
                end_ms: epoch,
                total: 3
            }
        );
        // Far times round up, never down.
        let far = KeyState::Window(Window {
            end_ms: epoch + (1 << 40) + 1,
            bits: 3,
            lanes: 5,
        });
        match Slot::pack(h, far, epoch).unpack(epoch) {
            KeyState::Window(w) => {
                assert!(w.end_ms > epoch + (1 << 40) && w.end_ms - epoch - (1 << 40) < 1 << 17);
                assert_eq!((w.bits, w.lanes), (3, 5));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rebase_keeps_every_time_exact() {
        let mut table = Table::default();
        let mut s = 3;
        let mut model = HashMap::new();
        for i in 0..1000u64 {
            let h = mix(rng(&mut s));
            let state = if i % 3 == 0 {
                KeyState::Blocked {
                    until_ms: 5_000 + i,
                    end_ms: 4_000 + 2 * i,
                    total: i as u16,
                }
            } else {
                window(3_000 + i)
            };
            table.insert_absent(h, state);
            model.insert(h, state);
        }
        table.rebase(2_999);
        assert_eq!(table.epoch(), 2_999);
        for (&h, &state) in &model {
            let i = table.find(h).expect("present");
            assert_eq!(table.state(i), state);
        }
        // An epoch never moves back.
        table.rebase(10);
        assert_eq!(table.epoch(), 2_999);
    }

    /// Random inserts, updates and removals against `HashMap` as the model, across growth,
    /// wrap-around runs and backward-shift deletion.
    #[test]
    fn behaves_like_a_map_under_random_operations() {
        let mut table = Table::default();
        let mut model: HashMap<u64, KeyState> = HashMap::new();
        let mut s = 0x1234_5678;
        // Few distinct keys so that removals and re-inserts hit the same runs often.
        let keys: Vec<u64> = (0..600).map(|_| mix(rng(&mut s))).collect();
        for step in 0..200_000u64 {
            let h = keys[(rng(&mut s) % keys.len() as u64) as usize];
            let state = window(step + 1);
            match (rng(&mut s) % 3, table.find(h)) {
                (0, Some(i)) => {
                    table.remove_at(i);
                    model.remove(&h);
                }
                (_, Some(i)) => {
                    table.set(i, state);
                    model.insert(h, state);
                }
                (_, None) => {
                    assert!(!model.contains_key(&h));
                    table.insert_absent(h, state);
                    model.insert(h, state);
                }
            }
            if step % 1000 == 0 {
                table.shrink_if_sparse();
            }
            assert_eq!(table.len(), model.len());
            assert!(table.len() * 5 <= table.slot_count() * 4);
        }
        for (&h, &state) in &model {
            let i = table.find(h).expect("present");
            assert_eq!(table.state(i), state);
        }
        let occupied = (0..table.slot_count())
            .filter(|&i| table.is_occupied(i))
            .count();
        assert_eq!(occupied, model.len());
    }

    #[test]
    fn load_stays_between_0_64_and_0_8_while_growing() {
        let mut table = Table::default();
        let mut s = 5;
        for n in 1..=200_000usize {
            table.insert_absent(mix(rng(&mut s)), window(1));
            if n >= 1000 {
                let load = n as f64 / table.slot_count() as f64;
                assert!((0.639..=0.8).contains(&load), "load {load} at {n}");
                assert!(table.bytes() as f64 / n as f64 <= 31.3);
            }
        }
    }
}
