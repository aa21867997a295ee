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
