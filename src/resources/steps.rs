//! Work over many rows in steps that give the runtime its turn. A scan page holds up to 5,000
//! records; mapped in one poll it held a worker thread for a tenth of a second at 500 records, and
//! every partner request queued on that worker waited as long (40–70 ms stalls in the open-loop
//! benchmark whenever a scan ran).

/// Rows between two yields: a few hundred microseconds of mapping with every child collection.
pub const ROWS_PER_STEP: usize = 16;

/// Counts the rows of a loop and yields to the runtime after every [`ROWS_PER_STEP`].
#[derive(Debug, Default)]
pub struct Steps(usize);

impl Steps {
    /// Call once per row, before its work.
    pub async fn row(&mut self) {
        if self.0 > 0 && self.0.is_multiple_of(ROWS_PER_STEP) {
            tokio::task::yield_now().await;
        }
        self.0 += 1;
    }
}

/// Runs `step`, one long synchronous step (parsing a scan-sized page of several megabytes), so that
/// it does not hold a worker thread: with `block_in_place` on the multi-thread runtime (the worker's
/// queued tasks move to another thread meanwhile), in place on a current-thread runtime (tests).
pub fn off_worker<T>(step: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(step)
    } else {
        step()
    }
}

/// The nice value a background step runs at, above the gateway's own (Linux): its CPU weight is
/// about a tenth of a partner request's when both want a busy core, and all of the core when
/// nothing else does.
pub const BACKGROUND_NICE: i32 = 10;

/// [`off_worker`], with `step` on a thread of its own at a lower CPU priority
/// ([`BACKGROUND_NICE`]): the change scan parsing a scan-sized page is work no partner waits
/// for, so partner requests should get the core first. Falls back to the calling thread when no
/// thread can be started; a panic in `step` goes on in the caller.
pub fn off_worker_background<T: Send>(step: impl FnOnce() -> T + Send) -> T {
    let job = std::sync::Mutex::new(Some(step));
    let take = || job.lock().ok().and_then(|mut j| j.take());
    off_worker(|| {
        let ran = std::thread::scope(|s| {
            let spawned = std::thread::Builder::new()
                .name("background-step".into())
                .spawn_scoped(s, || {
                    lower_priority();
                    take().map(|f| f())
                });
            match spawned.map(std::thread::ScopedJoinHandle::join) {
                Ok(Ok(out)) => out,
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(_) => None,
            }
        });
        match ran.or_else(|| take().map(|f| f())) {
            Some(out) => out,
            // The job is taken once, by one of the two above.
            None => unreachable!("background step neither ran nor stayed"),
        }
    })
}

/// Raises the calling thread's nice value by [`BACKGROUND_NICE`] (Linux sets it per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let me = Some(rustix::thread::gettid());
        let now = getpriority_process(me).unwrap_or(0);
        if let Err(e) = setpriority_process(me, (now + BACKGROUND_NICE).min(19)) {
            tracing::debug!(error = %e, "background step: priority not lowered");
        }
    }
}

/// `f` over `rows` in order (rows it maps to `None` left out), in steps.
pub async fn map<R, T>(rows: &[R], mut f: impl FnMut(&R) -> Option<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(rows.len());
    let mut steps = Steps::default();
    for r in rows {
        steps.row().await;
        out.extend(f(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Polls `fut` until ready; returns its output and how many polls that took.
    fn drive<F: Future>(fut: F) -> (F::Output, usize) {
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        let mut polls = 0;
        loop {
            polls += 1;
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return (out, polls);
            }
        }
    }

    #[test]
    fn a_page_is_mapped_in_steps_that_each_return_to_the_runtime() {
        let rows: Vec<u32> = (0..100).collect();
        let mut mapped_per_poll = Vec::new();
        let seen = std::cell::Cell::new(0);
        let mut fut = pin!(map(&rows, |r| {
            seen.set(seen.get() + 1);
            (r % 10 != 0).then_some(r * 2)
        }));
        let mut cx = Context::from_waker(Waker::noop());
        let out = loop {
            let before = seen.get();
            let polled = fut.as_mut().poll(&mut cx);
            mapped_per_poll.push(seen.get() - before);
            if let Poll::Ready(out) = polled {
                break out;
            }
        };
        // Every row once, in order, `None`s left out.
        assert_eq!(out.len(), 90);
        assert_eq!(out[..3], [2, 4, 6]);
        // No poll maps more than one step; 100 rows take 7 polls (6 full steps and the rest).
        assert!(mapped_per_poll.iter().all(|n| *n <= ROWS_PER_STEP));
        assert_eq!(mapped_per_poll.len(), 100usize.div_ceil(ROWS_PER_STEP));
    }

    #[cfg(target_os = "linux")]
    fn nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("priority")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_background_step_runs_on_another_thread_at_a_lower_priority() {
        let caller = (std::thread::current().id(), nice());
        let body = [1u8, 2, 3];
        // Borrows from the caller, as a page parse borrows the body.
        let (thread, priority, sum) = off_worker_background(|| {
            (
                std::thread::current().id(),
                nice(),
                body.iter().map(|b| u32::from(*b)).sum::<u32>(),
            )
        });
        assert_eq!(sum, 6);
        assert_ne!(thread, caller.0);
        assert_eq!(priority, (caller.1 + BACKGROUND_NICE).min(19));
        // The caller's own priority is untouched.
        assert_eq!(nice(), caller.1);
    }

    #[test]
    fn a_panic_in_a_background_step_reaches_the_caller() {
        let caught =
            std::panic::catch_unwind(|| off_worker_background(|| -> u8 { panic!("bad page") }));
        let payload = caught.expect_err("the panic goes on");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"bad page"));
    }

    #[test]
    fn a_short_loop_never_yields() {
        let (out, polls) = drive(map(&[1, 2, 3], |r| Some(*r)));
        assert_eq!(out, vec![1, 2, 3]);
        assert_eq!(polls, 1);
        let (_, polls) = drive(async {
            let mut s = Steps::default();
            for _ in 0..ROWS_PER_STEP {
                s.row().await;
            }
        });
        assert_eq!(polls, 1);
    }
}
