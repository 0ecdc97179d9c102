//! Training samples made on background threads and handed out in index order, so a run's data
//! depends only on its seed and step, however the threads are scheduled (resume reproduces it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};

/// Produces `make(0), make(1), …` on worker threads, yielded strictly in order.
pub struct OrderedProducer<T> {
    rx: Receiver<(u64, T)>,
    pending: BTreeMap<u64, T>,
    next: u64,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl<T: Send + 'static> OrderedProducer<T> {
    /// Starts `workers` threads producing items from index `start` on.
    pub fn start(start: u64, workers: usize, make: impl Fn(u64) -> T + Send + Sync + 'static) -> Self {
        let workers = workers.max(1);
        let (tx, rx) = bounded(2 * workers);
        let counter = Arc::new(AtomicU64::new(start));
        let stop = Arc::new(AtomicBool::new(false));
        let make = Arc::new(make);
        let handles = (0..workers)
            .map(|_| {
                let (tx, counter, stop, make) = (tx.clone(), counter.clone(), stop.clone(), make.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let i = counter.fetch_add(1, Ordering::Relaxed);
                        if tx.send((i, make(i))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        OrderedProducer { rx, pending: BTreeMap::new(), next: start, stop, workers: handles }
    }

    /// The next item in index order; `None` only if every worker died.
    pub fn next_item(&mut self) -> Option<T> {
        loop {
            if let Some(item) = self.pending.remove(&self.next) {
                self.next += 1;
                return Some(item);
            }
            let (i, item) = self.rx.recv().ok()?;
            self.pending.insert(i, item);
        }
    }
}

impl<T> Drop for OrderedProducer<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Unblock workers waiting to send, then wait for them.
        while self.rx.try_recv().is_ok() {}
        for w in self.workers.drain(..) {
            while !w.is_finished() {
                while self.rx.try_recv().is_ok() {}
                std::thread::yield_now();
            }
            let _ = w.join();
        }
    }
}
