//! A value the control thread replaces and packet threads read without locking per
//! packet: readers keep their own `Arc` and compare a version number (one atomic
//! load) before each batch; the `RwLock` is taken only when the value changed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub(crate) struct Published<T> {
    value: RwLock<Arc<T>>,
    version: AtomicU64,
}

impl<T> Published<T> {
    pub fn new(value: T) -> Self {
        Published {
            value: RwLock::new(Arc::new(value)),
            version: AtomicU64::new(0),
        }
    }

    pub fn current(&self) -> Arc<T> {
        self.value.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replace the value; readers pick it up at their next `refresh`.
    pub fn publish(&self, value: T) {
        let mut slot = self.value.write().unwrap_or_else(|e| e.into_inner());
        *slot = Arc::new(value);
        self.version.fetch_add(1, Ordering::Release);
    }
}

/// A packet thread's view of a `Published` value.
pub(crate) struct Reader<T> {
    source: Arc<Published<T>>,
    cached: Arc<T>,
    version: u64,
}

impl<T> Reader<T> {
    pub fn new(source: Arc<Published<T>>) -> Self {
        let version = source.version.load(Ordering::Acquire);
        let cached = source.current();
        Reader {
            source,
            cached,
            version,
        }
    }

    /// Pick up a newer value if there is one; true if it changed.
    pub fn refresh(&mut self) -> bool {
        if self.source.version.load(Ordering::Acquire) == self.version {
            return false;
        }
        let slot = self.source.value.read().unwrap_or_else(|e| e.into_inner());
        // Read under the lock: the version matches the value taken.
        self.version = self.source.version.load(Ordering::Acquire);
        self.cached = slot.clone();
        true
    }

    pub fn get(&self) -> &Arc<T> {
        &self.cached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_sees_each_publication_once() {
        let p = Arc::new(Published::new(1));
        let mut r = Reader::new(p.clone());
        assert!(!r.refresh());
        assert_eq!(**r.get(), 1);
        p.publish(2);
        assert!(r.refresh());
        assert_eq!(**r.get(), 2);
        assert!(!r.refresh());
    }
}
