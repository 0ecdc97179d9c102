//! Where the model's work runs: on one of rayon's worker threads, so that the thread driving a
//! training step or a denoising step is itself one of the threads its parallel kernels run on.
//! The CLI runs each command this way; the plugin's worker runs each stream step this way (and
//! waits for requests on its own thread, holding no pool thread while idle).
//! Called from an ordinary thread, every parallel op hands its work to rayon's workers and the
//! caller waits; between ops the workers spin while the caller does the serial part, so on a
//! 2-core machine three busy threads share two cores. Run from a worker, the driving thread
//! takes part in each parallel op and nothing oversubscribes (the DiT training step at 64–320
//! tokens is 10–25 % faster on the 2-core development machine, `docs/PERFORMANCE.md`).

/// Runs `work` on a worker of rayon's global pool and returns its result (a panic in `work`
/// is resumed in the caller). Called from a worker already, it just runs `work`.
pub fn on_compute_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() { work() } else { rayon::scope(|_| work()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_a_pool_worker_and_returns_its_result() {
        assert!(rayon::current_thread_index().is_none(), "tests run on ordinary threads");
        let (on_worker, value) = on_compute_pool(|| (rayon::current_thread_index().is_some(), 42));
        assert!(on_worker);
        assert_eq!(value, 42);
        // Nested calls run in place.
        assert!(on_compute_pool(|| on_compute_pool(|| rayon::current_thread_index().is_some())));
        let panicked = std::panic::catch_unwind(|| on_compute_pool(|| panic!("in the pool")));
        assert!(panicked.is_err(), "a panic in the work reaches the caller");
    }
}
