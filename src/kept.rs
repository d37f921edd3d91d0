//! Things of one kind kept per thread for reuse: what a request allocates and frees
//! again each time (its encoded head, its response's field spans).

use std::cell::RefCell;
use std::thread::LocalKey;

/// Things of one kind kept on a thread for reuse (in a `thread_local!`), at most `keep`:
/// what a request allocates and frees again each time, such as its encoded head. With
/// dozens of requests in flight, finishing and starting in bursts, the allocator's own
/// per-thread caches (seven of a size) overflow to its slower lists; this does not.
pub(crate) struct Kept<T> {
    list: RefCell<Vec<T>>,
    keep: usize,
}

impl<T> Kept<T> {
    pub const fn new(keep: usize) -> Kept<T> {
        Kept {
            list: RefCell::new(Vec::new()),
            keep,
        }
    }

    /// Keeps `item` in the thread's list `key`, or drops it when enough are kept (or the
    /// thread is being torn down).
    pub fn give(key: &'static LocalKey<Kept<T>>, item: T) {
        let _ = key.try_with(|kept| {
            if let Ok(mut list) = kept.list.try_borrow_mut() {
                if list.len() < kept.keep {
                    list.push(item);
                }
            }
        });
    }

    /// The last item kept in the thread's list `key`, if there is one.
    pub fn take(key: &'static LocalKey<Kept<T>>) -> Option<T> {
        key.try_with(|kept| kept.list.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static NUMBERS: Kept<u32> = const { Kept::new(3) };
    }

    #[test]
    fn kept_gives_back_the_last_kept_and_keeps_at_most_its_number() {
        for n in 0..5 {
            Kept::give(&NUMBERS, n);
        }
        let taken: Vec<u32> = std::iter::from_fn(|| Kept::take(&NUMBERS)).collect();
        assert_eq!(taken, [2, 1, 0]);
    }
}
