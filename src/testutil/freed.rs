//! Test builds only: an allocator that looks into every block the checking thread
//! frees while a check is armed, so that a test can tell whether secret bytes were left behind in memory
//! given back (a key copy dropped without being wiped). The heap is all it sees:
//! stack copies and the C library's allocations (AWS-LC) are out of its reach.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Needles are this long: a 16-byte run of a key is no accident.
pub const NEEDLE: usize = 16;
const MAX_NEEDLES: usize = 16;

struct Inspecting;

static ARMED: AtomicBool = AtomicBool::new(false);
thread_local! {
    /// The checking thread alone is inspected: another test's thread may free a block
    /// that recycles memory holding the needle from before the check began (the
    /// check's own setup, freed unwiped), which is not a copy the checked code left.
    static HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// Written only while disarmed, under `CHECKS`; read only while armed.
static NEEDLES: Needles = Needles(std::cell::UnsafeCell::new([[0; NEEDLE]; MAX_NEEDLES]));
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// One check at a time (the test harness runs tests on several threads).
static CHECKS: Mutex<()> = Mutex::new(());

struct Needles(std::cell::UnsafeCell<[[u8; NEEDLE]; MAX_NEEDLES]>);

// SAFETY: see `NEEDLES`: writes and reads never overlap (`ARMED` orders them).
unsafe impl Sync for Needles {}

#[global_allocator]
static ALLOCATOR: Inspecting = Inspecting;

/// Does the freed block at `ptr` hold a needle?
///
/// # Safety
/// `ptr` must point at `len` readable bytes.
unsafe fn inspect(ptr: *const u8, len: usize) {
    // `try_with`: a thread being torn down frees memory after its locals are gone.
    if !ARMED.load(Ordering::Acquire) || !HERE.try_with(|h| h.get()).unwrap_or(false) {
        return;
    }
    // SAFETY: the caller's promise; the needles are not written while armed.
    let (block, needles) = unsafe {
        (
            std::slice::from_raw_parts(ptr, len),
            &(&*NEEDLES.0.get())[..COUNT.load(Ordering::Relaxed)],
        )
    };
    if block
        .windows(NEEDLE)
        .any(|w| needles.iter().any(|n| n == w))
    {
        FOUND.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to the system allocator as it came; `realloc` is
// the default one (alloc, copy, dealloc), so that the old block is inspected too.
unsafe impl GlobalAlloc for Inspecting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promised.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: a live block of `layout.size()` bytes, ours until freed below.
        unsafe {
            inspect(ptr, layout.size());
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller promised (the layout is valid for the new size).
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// Run `f`; how many blocks freed meanwhile held one of the `needles` (each at least
/// `NEEDLE` bytes; their first `NEEDLE` bytes are looked for).
#[allow(clippy::missing_panics_doc)]
pub fn copies_left(needles: &[&[u8]], f: impl FnOnce()) -> usize {
    let _one = CHECKS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(needles.len() <= MAX_NEEDLES);
    // SAFETY: disarmed, and `CHECKS` held: nobody reads or writes them.
    let table = unsafe { &mut *NEEDLES.0.get() };
    for (slot, n) in table.iter_mut().zip(needles) {
        slot.copy_from_slice(&n[..NEEDLE]);
    }
    COUNT.store(needles.len(), Ordering::Relaxed);
    FOUND.store(0, Ordering::Relaxed);
    HERE.with(|h| h.set(true));
    ARMED.store(true, Ordering::Release);
    f();
    ARMED.store(false, Ordering::Release);
    HERE.with(|h| h.set(false));
    FOUND.load(Ordering::Relaxed)
}

#[test]
fn a_dropped_copy_is_found_a_wiped_one_is_not() {
    let key = *b"0123456789abcdef-canary";
    let found = copies_left(&[&key], || drop(std::hint::black_box(key.to_vec())));
    assert!(found >= 1, "{found}");
    let found = copies_left(&[&key], || {
        drop(crate::crypto::Secret::new(std::hint::black_box(
            key.to_vec(),
        )))
    });
    assert_eq!(found, 0);
}
