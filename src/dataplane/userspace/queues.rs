//! Which transmit worker reads which TUN queue (issue 14: 10,000 tunnels in one
//! daemon). While the daemon has few tunnels, a new one gets a queue per worker
//! (multi-queue TUN): the kernel spreads its flows over the queues, so one busy tunnel
//! uses every core. Past `MULTI_QUEUE_TUNNELS` a new tunnel gets one queue, read by the
//! worker serving the fewest queues: the load then spreads by tunnel, and each tunnel
//! costs one descriptor instead of one per core (the descriptor limit, not the cores,
//! is what bounds a hub of thousands).

/// Tunnels that get a queue per worker: the ones created while fewer than this exist.
/// Few enough that their extra queues stay a small part of a hub's descriptor budget
/// (at most 64 x 3 extra descriptors with `MAX_WORKERS` = 4, against 10,000 for the
/// tunnels themselves), many enough for every site-to-site router (a handful of busy
/// tunnels, each of which may need more than one core).
pub(super) const MULTI_QUEUE_TUNNELS: usize = 64;

/// The TUN queues (descriptors) of `tunnels` tunnels created one after the other on
/// `workers` workers.
pub(super) fn descriptors(tunnels: usize, workers: usize) -> usize {
    tunnels.min(MULTI_QUEUE_TUNNELS) * workers + tunnels.saturating_sub(MULTI_QUEUE_TUNNELS)
}

/// The queues each worker reads, as the control thread hands them out.
#[derive(Debug)]
pub(super) struct Spread {
    /// Queues served, by worker index.
    load: Vec<usize>,
}

impl Spread {
    pub fn new(workers: usize) -> Self {
        Spread {
            load: vec![0; workers.max(1)],
        }
    }

    /// The workers of a new tunnel's queues, queue by queue, when `tunnels` exist
    /// already: every worker (queue K to worker K), or the least loaded one (the
    /// first of equals).
    pub fn assign(&mut self, tunnels: usize) -> Vec<usize> {
        let workers: Vec<usize> = if tunnels < MULTI_QUEUE_TUNNELS {
            (0..self.load.len()).collect()
        } else {
            let least = (0..self.load.len()).min_by_key(|&w| self.load[w]);
            least.into_iter().collect()
        };
        for &w in &workers {
            self.load[w] += 1;
        }
        workers
    }

    /// A tunnel's queues (`assign`'s answer) are gone.
    pub fn release(&mut self, workers: &[usize]) {
        for &w in workers {
            self.load[w] = self.load[w].saturating_sub(1);
        }
    }

    #[cfg(test)]
    fn load(&self) -> &[usize] {
        &self.load
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread_of(load: &[usize]) -> usize {
        load.iter().max().unwrap() - load.iter().min().unwrap()
    }

    /// 1,000 tunnels on 2 and on 4 workers: the first `MULTI_QUEUE_TUNNELS` on every
    /// worker, the others one queue each, no worker more than one queue ahead; after
    /// removing tunnels of one worker only, the new ones fill that worker first.
    #[test]
    fn tunnels_spread_evenly_and_refill_after_removal() {
        for workers in [1, 2, 4] {
            let mut s = Spread::new(workers);
            let tunnels: Vec<Vec<usize>> = (0..1000).map(|n| s.assign(n)).collect();
            for (n, t) in tunnels.iter().enumerate() {
                let expected = if n < MULTI_QUEUE_TUNNELS { workers } else { 1 };
                assert_eq!(t.len(), expected, "tunnel {n} of {workers} workers");
            }
            assert_eq!(
                s.load().iter().sum::<usize>(),
                1000 + MULTI_QUEUE_TUNNELS * (workers - 1),
                "one descriptor a tunnel past the first {MULTI_QUEUE_TUNNELS}"
            );
            assert_eq!(descriptors(1000, workers), s.load().iter().sum::<usize>());
            assert!(spread_of(s.load()) <= 1, "{workers}: {:?}", s.load());

            // 100 single-queue tunnels of worker 0 go, 100 come back.
            let gone: Vec<&Vec<usize>> = tunnels
                .iter()
                .skip(MULTI_QUEUE_TUNNELS)
                .filter(|t| t[0] == 0)
                .take(100)
                .collect();
            for t in &gone {
                s.release(t);
            }
            if workers > 1 {
                assert!(spread_of(s.load()) >= 99, "{:?}", s.load());
            }
            let back: Vec<Vec<usize>> = (0..100).map(|i| s.assign(900 + i)).collect();
            assert!(back.iter().all(|t| t == &[0]), "re-added: worker 0 first");
            assert!(spread_of(s.load()) <= 1, "{workers}: {:?}", s.load());
        }
    }

    /// Below the threshold again (tunnels removed), a new tunnel gets every worker.
    #[test]
    fn few_tunnels_get_a_queue_per_worker() {
        let mut s = Spread::new(2);
        assert_eq!(s.assign(0), [0, 1]);
        assert_eq!(s.assign(MULTI_QUEUE_TUNNELS - 1), [0, 1]);
        assert_eq!(s.assign(MULTI_QUEUE_TUNNELS), [0]);
        assert_eq!(s.assign(MULTI_QUEUE_TUNNELS + 1), [1]);
        s.release(&[0, 1]);
        assert_eq!(s.assign(3), [0, 1]);
        assert_eq!(s.load(), [3, 3]);
    }
}
