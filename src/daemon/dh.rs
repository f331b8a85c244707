//! The Diffie-Hellman workers (see `ike::dh`): a few threads that run the engine's
//! `DhJob`s, urgent ones (peers we know) first, and hand each result back to the event
//! loop. The loop never exponentiates, so a flood of key exchanges from strangers
//! delays only other strangers' exchanges: rekeys, DPD and `show` keep their pace.
//!
//! Why threads rather than a budget per loop turn: one MODP-2048 exchange takes a
//! few milliseconds, longer than a loop turn should, and the workers use the cores
//! the single-threaded loop leaves idle. The engine bounds how many jobs for unknown
//! peers are queued (`ike::dh::UNSOLICITED_JOBS`), so the queue is bounded too.

use super::worker::Event;
use crate::dataplane::threads::{self, ThreadFailure};
use crate::ike::DhJob;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use tokio::sync::mpsc;

/// Workers at most: the loop keeps a core of its own.
const MAX_WORKERS: usize = 4;

#[derive(Default)]
struct Queues {
    urgent: VecDeque<DhJob>,
    other: VecDeque<DhJob>,
}

#[derive(Default)]
struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

pub struct DhPool {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl DhPool {
    /// One worker per core but one (at least one, at most `MAX_WORKERS`); results and
    /// a dying worker go to `events`.
    pub fn start(events: mpsc::UnboundedSender<Event>) -> std::io::Result<DhPool> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = cores.saturating_sub(1).clamp(1, MAX_WORKERS);
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut pool = DhPool {
            shared,
            stop,
            threads: Vec::new(),
        };
        for i in 0..workers {
            let (shared, stop, done) = (pool.shared.clone(), pool.stop.clone(), events.clone());
            let report = events.clone();
            let failed = move |f: ThreadFailure| {
                let _ = report.send(Event::Died(f));
            };
            let thread = threads::spawn(format!("dh-{i}"), pool.stop.clone(), failed, move || {
                work(&shared, &stop, &done);
                Ok(())
            })?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    pub fn submit(&self, job: DhJob) {
        let mut q = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
        if job.urgent {
            q.urgent.push_back(job);
        } else {
            q.other.push_back(job);
        }
        self.shared.ready.notify_one();
    }

    pub fn shutdown(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.shared.ready.notify_all();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// One worker: take the next job (urgent first), run it, send the result.
fn work(shared: &Shared, stop: &AtomicBool, done: &mpsc::UnboundedSender<Event>) {
    loop {
        let job = {
            let mut q = shared.queues.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(job) = q.urgent.pop_front().or_else(|| q.other.pop_front()) {
                    break job;
                }
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        if done.send(Event::DhComputed(job.run())).is_err() {
            return;
        }
    }
}
