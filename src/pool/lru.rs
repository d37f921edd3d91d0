//! The order in which idle connections of all hosts went idle: a doubly linked list kept in
//! a slab, so that adding an entry at the back, removing any entry by its index and finding
//! the least recently used are all O(1), whatever the number of hosts or connections.
//!
//! Each idle connection holds the index of its entry (`Idle::lru`); whoever takes it out
//! of its host's idle stack removes the entry. Freed places are reused, so the slab never
//! holds more places than idle connections once were at most.

/// No entry.
const NIL: usize = usize::MAX;

/// A line of its own (the pool's key and two links fill it): a removal touches the
/// entry and its two neighbours, one cache line each, never two.
#[repr(align(64))]
struct Node<K> {
    /// `None` while the place is free.
    key: Option<K>,
    prev: usize,
    next: usize,
}

/// Keys in the order they were added, front first.
pub(crate) struct Lru<K> {
    nodes: Vec<Node<K>>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    len: usize,
}

impl<K> Default for Lru<K> {
    fn default() -> Self {
        Lru {
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl<K> Lru<K> {
    /// Adds `key` at the back; its index, for `remove`.
    pub fn push_back(&mut self, key: K) -> usize {
        let node = Node {
            key: Some(key),
            prev: self.tail,
            next: NIL,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.nodes[at] = node;
                at
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        match self.nodes.get_mut(self.tail) {
            Some(tail) => tail.next = at,
            None => self.head = at,
        }
        self.tail = at;
        self.len += 1;
        at
    }

    /// Removes the entry at `at`; its key, or `None` if there is no entry there.
    pub fn remove(&mut self, at: usize) -> Option<K> {
        let node = self.nodes.get_mut(at)?;
        let key = node.key.take()?;
        let (prev, next) = (node.prev, node.next);
        match self.nodes.get_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.nodes.get_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
        self.free.push(at);
        self.len -= 1;
        Some(key)
    }

    /// The first entry, from the front, whose key `pick` accepts: its index and key.
    pub fn first_where(&self, mut pick: impl FnMut(&K) -> bool) -> Option<(usize, &K)> {
        let mut at = self.head;
        while let Some(node) = self.nodes.get(at) {
            if let Some(key) = node.key.as_ref().filter(|k| pick(k)) {
                return Some((at, key));
            }
            at = node.next;
        }
        None
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key at `at`, if there is an entry there.
    pub fn get(&self, at: usize) -> Option<&K> {
        self.nodes.get(at)?.key.as_ref()
    }

    /// Places in the slab, taken or free: every entry's index is below this.
    pub fn places(&self) -> usize {
        self.nodes.len()
    }

    /// The keys, front first.
    #[cfg(test)]
    pub fn keys(&self) -> Vec<&K> {
        let mut out = Vec::new();
        let mut at = self.head;
        while let Some(node) = self.nodes.get(at) {
            if let Some(key) = &node.key {
                out.push(key);
            }
            at = node.next;
        }
        out
    }
}

/// The size of an entry for keys `K` (for tests).
#[cfg(test)]
pub(crate) fn node_size<K>() -> usize {
    std::mem::size_of::<Node<K>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_order_through_removals_and_reused_places() {
        let mut lru = Lru::default();
        let a = lru.push_back('a');
        let b = lru.push_back('b');
        let c = lru.push_back('c');
        assert_eq!(lru.keys(), vec![&'a', &'b', &'c']);
        // The middle, then the front, then the back.
        assert_eq!(lru.remove(b), Some('b'));
        assert_eq!(lru.keys(), vec![&'a', &'c']);
        assert_eq!(lru.remove(a), Some('a'));
        assert_eq!(lru.first_where(|_| true), Some((c, &'c')));
        // A freed place is reused, and the new entry goes to the back.
        let d = lru.push_back('d');
        assert!(d == a || d == b);
        assert_eq!(lru.keys(), vec![&'c', &'d']);
        assert_eq!(lru.remove(c), Some('c'));
        assert_eq!(lru.remove(c), None, "removed twice");
        assert_eq!(lru.remove(99), None);
        assert_eq!(lru.remove(d), Some('d'));
        assert!(lru.is_empty());
        assert_eq!(lru.first_where(|_| true), None);
        // Empty again: the next entry is front and back.
        let e = lru.push_back('e');
        assert_eq!(lru.keys(), vec![&'e']);
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.remove(e), Some('e'));
    }

    #[test]
    fn the_first_accepted_entry_is_found_past_refused_ones() {
        let mut lru = Lru::default();
        for k in [1, 2, 3, 2, 4] {
            lru.push_back(k);
        }
        assert_eq!(lru.first_where(|&k| k != 1).map(|(_, k)| *k), Some(2));
        assert_eq!(lru.first_where(|&k| k > 3).map(|(_, k)| *k), Some(4));
        assert_eq!(lru.first_where(|&k| k > 9), None);
    }

    #[test]
    fn a_long_run_of_pushes_and_removals_matches_a_plain_list() {
        // Against a Vec kept in order, with a seeded pseudo-random mix.
        let mut lru = Lru::default();
        let mut plain: Vec<(usize, u32)> = Vec::new();
        let mut x: u64 = 0x2545_f491;
        for i in 0..10_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if plain.is_empty() || x % 3 != 0 {
                let at = lru.push_back(i);
                plain.push((at, i));
            } else {
                let (at, key) = plain.remove((x as usize / 3) % plain.len());
                assert_eq!(lru.remove(at), Some(key));
            }
            assert_eq!(lru.len(), plain.len());
        }
        let keys: Vec<u32> = lru.keys().into_iter().copied().collect();
        let expected: Vec<u32> = plain.iter().map(|(_, k)| *k).collect();
        assert_eq!(keys, expected);
    }
}
