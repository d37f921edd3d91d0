//! Turns across hosts: which host with waiters gets the next connection or slot when they
//! compete for it, round-robin.
//!
//! A host joins the back of the round when it starts waiting. [`Turns::next`] gives the
//! turn to the first host in the round that can take it and moves that host to the back;
//! a host that cannot take a slot now (at its own cap) keeps its place, and one with
//! nobody waiting any more leaves. So with one host queueing 10,000 requests and others
//! queueing a few, each freed slot goes to the next host in the round, and the small
//! hosts are served in turn with the big one instead of after it. Within a host, waiters
//! stay FIFO (`host.rs`).
//!
//! Pure: no clock, no sockets; generic over the key so it is tested with numbers. Places
//! are left behind lazily (a host that leaves and joins again gets a new generation, and
//! its old place is skipped) and swept out when they outnumber the hosts in the round, so
//! joining, leaving and going to the back ([`Turns::send_to_back`]) cost O(1) amortized;
//! `next` scans from the front past hosts at their cap, of which there are at most as
//! many as the global cap allows open.
//!
//! ```text
//!   join(k) ──► [ a  b  c  k ] ──next──► a served ──► [ b  c  k  a ]  (a still waits)
//!                                                     [ b  c  k ]     (a has no one left)
//! ```

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use crate::conn::BuildOriginHasher;

/// What a host can do with a turn now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// It has a waiter that can use a slot: it takes the turn.
    Ready,
    /// It has waiters but cannot take a slot now (at its own cap): it keeps its place.
    Blocked,
    /// Nobody waits there any more: it leaves the round.
    Gone,
}

/// The round of hosts with waiters.
#[derive(Debug)]
pub(crate) struct Turns<K> {
    /// Places in the round, front first; an entry counts only while its generation is
    /// the host's current one.
    round: VecDeque<(K, u64)>,
    /// Hosts in the round and their current generation.
    members: HashMap<K, u64, BuildOriginHasher>,
    next_generation: u64,
}

impl<K> Default for Turns<K> {
    fn default() -> Self {
        Turns {
            round: VecDeque::new(),
            members: HashMap::default(),
            next_generation: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> Turns<K> {
    /// `key` takes the last place, unless it is in the round already.
    pub fn join(&mut self, key: &K) {
        if self.members.contains_key(key) {
            return;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.members.insert(key.clone(), generation);
        self.round.push_back((key.clone(), generation));
    }

    /// `key` leaves the round (its place is skipped from now on).
    pub fn leave(&mut self, key: &K) {
        self.members.remove(key);
        self.sweep_if_sparse();
    }

    /// `key` used its turn without [`Turns::next`] (it took a connection of its own): it
    /// goes to the back of the round if it is in it, as `next` would have moved it, in
    /// O(1) (a new generation; the old place is skipped) rather than by scanning the
    /// round for its place.
    pub fn send_to_back(&mut self, key: &K) {
        let Some(generation) = self.members.get_mut(key) else {
            return;
        };
        *generation = self.next_generation;
        self.round.push_back((key.clone(), self.next_generation));
        self.next_generation += 1;
        self.sweep_if_sparse();
    }

    /// Drops the places left behind once they outnumber the hosts in the round.
    fn sweep_if_sparse(&mut self) {
        if self.round.len() > 2 * self.members.len() + 16 {
            let members = &self.members;
            self.round.retain(|(k, g)| members.get(k) == Some(g));
        }
    }

    /// Hosts in the round.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The hosts in the round, in no particular order.
    pub fn members(&self) -> impl Iterator<Item = &K> {
        self.members.keys()
    }

    /// The first host in the round that `can` says is `Ready`, moved to the back; hosts
    /// found `Gone` (and places left behind) are dropped, `Blocked` ones keep their place.
    pub fn next(&mut self, mut can: impl FnMut(&K) -> Turn) -> Option<K> {
        let mut i = 0;
        while i < self.round.len() {
            let (key, generation) = &self.round[i];
            if self.members.get(key) != Some(generation) {
                self.round.remove(i);
                continue;
            }
            match can(key) {
                Turn::Blocked => i += 1,
                Turn::Gone => {
                    let key = key.clone();
                    self.members.remove(&key);
                    self.round.remove(i);
                }
                Turn::Ready => {
                    let place = self.round.remove(i)?;
                    let key = place.0.clone();
                    self.round.push_back(place);
                    return Some(key);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves `turns` times from a round where host `k` has `waiting[k]` waiters and may
    /// take a slot while `open[k] < cap`; a served host gets one more open (never given
    /// back) and one waiter less. Returns the order served.
    fn serve(waiting: &mut [usize], open: &mut [usize], cap: usize, turns: usize) -> Vec<usize> {
        let mut round = Turns::default();
        for (k, &w) in waiting.iter().enumerate() {
            if w > 0 {
                round.join(&k);
            }
        }
        let mut order = Vec::new();
        for _ in 0..turns {
            let next = round.next(|&k| match (waiting[k], open[k] < cap) {
                (0, _) => Turn::Gone,
                (_, false) => Turn::Blocked,
                (_, true) => Turn::Ready,
            });
            let Some(k) = next else { break };
            waiting[k] -= 1;
            open[k] += 1;
            order.push(k);
        }
        order
    }

    #[test]
    fn hosts_take_turns_in_the_order_they_started_waiting() {
        // (waiters per host, per-host cap, turns, order served)
        let rows: &[(&[usize], usize, usize, &[usize])] = &[
            (&[], 9, 3, &[]),
            (&[3], 9, 5, &[0, 0, 0]),
            (&[2, 2, 2], 9, 9, &[0, 1, 2, 0, 1, 2]),
            // One host queueing many does not starve the others.
            (&[100, 1, 1, 1], 99, 6, &[0, 1, 2, 3, 0, 0]),
            // A host with nobody waiting is passed over and leaves.
            (&[0, 2, 0, 1], 9, 9, &[1, 3, 1]),
            // A host at its own cap keeps its place but is passed over.
            (&[5, 5], 2, 9, &[0, 1, 0, 1]),
        ];
        for &(waiting, cap, turns, expected) in rows {
            let mut w = waiting.to_vec();
            let mut open = vec![0; waiting.len()];
            let order = serve(&mut w, &mut open, cap, turns);
            assert_eq!(order, expected, "waiting {waiting:?}, cap {cap}");
        }
    }

    #[test]
    fn a_blocked_host_keeps_its_place_for_when_it_can_go() {
        let mut round = Turns::default();
        for k in [0, 1, 2] {
            round.join(&k);
        }
        // 0 is at its cap: 1 goes, then 2; once 0 can go, it comes before 1 and 2.
        assert_eq!(
            round.next(|&k| if k == 0 { Turn::Blocked } else { Turn::Ready }),
            Some(1)
        );
        assert_eq!(
            round.next(|&k| if k == 0 { Turn::Blocked } else { Turn::Ready }),
            Some(2)
        );
        assert_eq!(round.next(|_| Turn::Ready), Some(0));
        assert_eq!(round.next(|_| Turn::Ready), Some(1));
    }

    #[test]
    fn joining_twice_keeps_one_place_and_rejoining_takes_the_last() {
        let mut round = Turns::default();
        round.join(&0);
        round.join(&1);
        round.join(&0);
        assert_eq!(round.len(), 2);
        round.leave(&0);
        round.join(&0);
        // 0's old place is skipped: 1 comes first, and 0 only once per round.
        assert_eq!(round.next(|_| Turn::Ready), Some(1));
        assert_eq!(round.next(|_| Turn::Ready), Some(0));
        assert_eq!(round.next(|_| Turn::Ready), Some(1));
        round.leave(&0);
        round.leave(&1);
        assert_eq!(round.next(|_| Turn::Ready), None);
        assert_eq!(round.len(), 0);
    }

    #[test]
    fn send_to_back_moves_a_host_as_its_turn_would_and_leaves_others_be() {
        // (hosts that join, `send_to_back` calls in order, the order `next` then serves)
        let rows: &[(&[u32], &[u32], &[u32])] = &[
            (&[0, 1, 2], &[0], &[1, 2, 0]),
            (&[0, 1, 2], &[1], &[0, 2, 1]),
            (&[0, 1, 2], &[2], &[0, 1, 2]),
            (&[0, 1, 2], &[0, 1], &[2, 0, 1]),
            (&[0, 1, 2], &[0, 0, 0], &[1, 2, 0]),
            // Not in the round (nobody waits there): nothing changes, nobody joins.
            (&[0, 1], &[7], &[0, 1]),
        ];
        for &(joined, moved, expected) in rows {
            let mut round = Turns::default();
            for k in joined {
                round.join(k);
            }
            for k in moved {
                round.send_to_back(k);
            }
            assert_eq!(round.len(), joined.len());
            let served: Vec<u32> = (0..joined.len())
                .filter_map(|_| round.next(|_| Turn::Ready))
                .collect();
            assert_eq!(served, expected, "joined {joined:?}, moved {moved:?}");
        }
    }

    #[test]
    fn places_left_behind_by_send_to_back_do_not_pile_up() {
        let mut round = Turns::default();
        for k in 0..4u32 {
            round.join(&k);
        }
        for i in 0..10_000u32 {
            round.send_to_back(&(i % 4));
        }
        assert!(round.round.len() <= 2 * 4 + 16, "{}", round.round.len());
        // 10,000 moves end with 3 last (9,999 % 4): the order is 0, 1, 2, 3.
        let served: Vec<u32> = (0..4).filter_map(|_| round.next(|_| Turn::Ready)).collect();
        assert_eq!(served, [0, 1, 2, 3]);
    }

    #[test]
    fn places_left_behind_do_not_pile_up() {
        let mut round = Turns::default();
        // One host waits all along while 10,000 others come and go.
        round.join(&u32::MAX);
        for i in 0..10_000u32 {
            round.join(&i);
            round.leave(&i);
        }
        assert!(round.round.len() <= 18, "{}", round.round.len());
        round.join(&7);
        assert_eq!(round.next(|_| Turn::Ready), Some(u32::MAX));
        assert_eq!(round.next(|_| Turn::Ready), Some(7));
    }
}
