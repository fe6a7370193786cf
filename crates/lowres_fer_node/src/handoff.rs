//! Keep-latest hand-over from the executor's tasks to a worker thread, and the
//! lock helper every shared state of the node uses.
//!
//! A robot camera must never queue behind a slow frame: the producer (a
//! subscription task) replaces whatever the worker has not taken yet, so the
//! worker always processes the newest input and memory stays bounded. The
//! camera mode keeps one frame ([`Slot<Option<T>>`]); the ROS4HRI drop-in
//! mode keeps one crop per face id ([`Slot<BTreeMap<K, T>>`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Poisoning only happens if a holder panicked; the data (counters, an
/// optional frame) is still meaningful, so keep going rather than cascade.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a [`Slot`] holds while the worker is busy: one item, or one per key.
pub trait Pending: Default {
    type Key;
    type Item;
    /// Store `item` under `key`; true when it replaced one never taken.
    fn keep_latest(&mut self, key: Self::Key, item: Self::Item) -> bool;
    fn is_empty(&self) -> bool;
}

impl<T> Pending for Option<T> {
    type Key = ();
    type Item = T;
    fn keep_latest(&mut self, (): (), item: T) -> bool {
        self.replace(item).is_some()
    }
    fn is_empty(&self) -> bool {
        self.is_none()
    }
}

impl<K: Ord, T> Pending for BTreeMap<K, T> {
    type Key = K;
    type Item = T;
    fn keep_latest(&mut self, key: K, item: T) -> bool {
        self.insert(key, item).is_some()
    }
    fn is_empty(&self) -> bool {
        BTreeMap::is_empty(self)
    }
}

/// Keep-latest hand-over between producers and one consumer thread.
pub struct Slot<P> {
    pending: Mutex<P>,
    ready: Condvar,
}

impl<P: Pending> Default for Slot<P> {
    fn default() -> Self {
        Self {
            pending: Mutex::new(P::default()),
            ready: Condvar::new(),
        }
    }
}

impl<P: Pending> Slot<P> {
    /// Hand over `item`; true when it replaced one the consumer never took.
    pub fn put(&self, key: P::Key, item: P::Item) -> bool {
        let replaced = lock(&self.pending).keep_latest(key, item);
        self.ready.notify_one();
        replaced
    }

    /// Swap everything pending into `into` (which the caller has emptied),
    /// waiting up to `poll` when nothing is pending.
    pub fn take_into(&self, poll: Duration, into: &mut P) {
        let mut g = lock(&self.pending);
        if g.is_empty() {
            g = self
                .ready
                .wait_timeout(g, poll)
                .map(|r| r.0)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        std::mem::swap(&mut *g, into);
    }

    /// Run `f` on what is pending (e.g. drop a key whose face ended).
    pub fn with_pending<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        f(&mut lock(&self.pending))
    }

    /// Wake the consumer (after setting its stop flag).
    pub fn wake(&self) {
        self.ready.notify_all();
    }
}

impl<T> Slot<Option<T>> {
    /// The pending item, waiting for one; `None` once `stop` is set (checked
    /// at least every `poll`).
    pub fn take(&self, stop: &AtomicBool, poll: Duration) -> Option<T> {
        let mut got = None;
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            self.take_into(poll, &mut got);
            if got.is_some() {
                return got;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    #[test]
    fn one_item_keeps_the_latest_and_stops() {
        let slot = Arc::new(Slot::<Option<u32>>::default());
        let stop = AtomicBool::new(false);
        assert!(!slot.put((), 1));
        assert!(slot.put((), 2), "an untaken item is replaced");
        assert_eq!(slot.take(&stop, Duration::from_millis(1)), Some(2));
        let producer = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                slot.put((), 3)
            })
        };
        assert_eq!(slot.take(&stop, Duration::from_millis(5)), Some(3));
        assert!(!producer.join().unwrap());
        stop.store(true, Ordering::Relaxed);
        slot.wake();
        assert_eq!(slot.take(&stop, Duration::from_millis(1)), None);
    }

    #[test]
    fn slot_wakes_the_consumer_and_stops() {
        let slot = Arc::new(Slot::<Option<u32>>::default());
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = {
            let (slot, stop) = (slot.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(v) = slot.take(&stop, Duration::from_secs(5)) {
                    got.push(v);
                }
                got
            })
        };
        // The consumer blocks in take; a put wakes it well before its poll.
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        slot.put((), 7);
        while slot.with_pending(|p| p.is_some()) {
            assert!(t.elapsed() < Duration::from_secs(2), "consumer not woken");
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.store(true, Ordering::Relaxed);
        slot.wake();
        assert_eq!(consumer.join().unwrap(), vec![7]);
    }

    #[test]
    fn keyed_items_keep_the_latest_per_key() {
        let slot = Slot::<BTreeMap<&str, u32>>::default();
        assert!(!slot.put("a", 1));
        assert!(slot.put("a", 2));
        assert!(!slot.put("b", 3));
        let mut got = BTreeMap::new();
        slot.take_into(Duration::from_millis(1), &mut got);
        assert_eq!(got, BTreeMap::from([("a", 2), ("b", 3)]));
        got.clear();
        slot.take_into(Duration::from_millis(1), &mut got);
        assert!(got.is_empty());
        slot.put("c", 4);
        slot.with_pending(|p| p.remove("c"));
        slot.take_into(Duration::from_millis(1), &mut got);
        assert!(got.is_empty());
    }
}
