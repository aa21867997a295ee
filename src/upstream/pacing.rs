//! Pacing by the budget Dataverse reports (docs/dataverse-web-api.md#budget-headers): every answer
//! says how many requests are left in the service-protection window; the gateway slows down before
//! that reaches zero instead of learning the budget from 429s.
//!
//! A report is taken together with the calls this process sent: from the answer to call `k` saying
//! `n` remain, the window's limit is estimated as `n` + this process's answered calls up to `k`
//! still in the window (an older call still in flight may reach Dataverse after `k`, so it is not
//! assumed counted); what is left now is that limit minus this process's calls in the window now.
//! So calls in flight are counted at once, a late answer of an older call never overrides a newer
//! one (the newest call's report wins), the estimate errs low, and the budget refills as the
//! process's own calls age out of the window (a call's time is its answer's, after Dataverse's). A call is held while what is left is within its reserve: background work (scans,
//! refreshes, probes) keeps a larger reserve than partner calls, so it waits first.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whom a call serves: partner reads and hires go first when the budget runs low.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Partner,
    Background,
}

tokio::task_local! {
    static BACKGROUND: ();
}

/// Runs `fut` with its upstream calls marked as background work (e.g. the change scanner, which
/// has a fairness key of its own but must yield to partners).
pub async fn background<F: Future>(fut: F) -> F::Output {
    BACKGROUND.scope((), fut).await
}

impl Priority {
    /// Calls without a caller (readiness, refreshes) and calls inside [`background`] are background.
    pub fn current(has_caller: bool) -> Self {
        if !has_caller || BACKGROUND.try_with(|_| ()).is_ok() {
            Priority::Background
        } else {
            Priority::Partner
        }
    }
}

/// The budget as this process believes it; one per Dataverse client.
#[derive(Debug)]
pub struct Budget {
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next_seq: u64,
    /// This process's calls in the window, kept so that a call costs O(log n), not O(n), when a
    /// window holds hundreds of thousands of them: calls in flight by sequence (the admission
    /// order: both are taken under the lock), the answer times of answered calls (answer order),
    /// and answered calls by sequence with their admission time (what a report may count).
    in_flight: VecDeque<(u64, Instant)>,
    answered_at: VecDeque<Instant>,
    answered: VecDeque<(u64, Instant)>,
    /// The window's limit as estimated from the newest report, and that report's call and time.
    limit: Option<u64>,
    reported_seq: u64,
    reported_at: Option<Instant>,
    /// After a 429 the estimate is gone: one call at a time (this one) until an answer reports.
    probing: bool,
    probe: Option<u64>,
    /// Calls waiting for room now, and the times partners were told to come back (429's
    /// `Retry-After`): a new refusal points past them, so callers told to retry do not all meet
    /// the same freed slot.
    waiting: usize,
    promised: VecDeque<(Option<Arc<str>>, Instant)>,
}

/// How long after its time a promised slot is kept for the caller it was promised to (a client
/// waits the whole seconds of `Retry-After`, so it comes back up to a second late).
const PROMISE_GRACE: Duration = Duration::from_secs(1);

impl State {
    /// This process's calls in the window: in flight, or answered less than a window ago.
    fn used(&self) -> u64 {
        (self.in_flight.len() + self.answered_at.len()) as u64
    }

    fn admit_call(&mut self, now: Instant) -> u64 {
        self.next_seq += 1;
        self.in_flight.push_back((self.next_seq, now));
        self.next_seq
    }

    /// The time of the `k`-th oldest call in the window (0-based): an answered call counts from
    /// its answer, one in flight from its admission (the two sorted lists merged).
    fn nth_time(&self, k: usize) -> Option<Instant> {
        let mut answered = self.answered_at.iter().copied().peekable();
        let mut in_flight = self.in_flight.iter().map(|(_, t)| *t).peekable();
        let mut next = || match (answered.peek(), in_flight.peek()) {
            (Some(a), Some(f)) if a <= f => answered.next(),
            (_, Some(_)) => in_flight.next(),
            (Some(_), None) => answered.next(),
            (None, None) => None,
        };
        for _ in 0..k {
            next()?;
        }
        next()
    }

    /// The newest time of any call in the window.
    fn newest(&self) -> Option<Instant> {
        let answered = self.answered_at.back().copied();
        let in_flight = self.in_flight.back().map(|(_, t)| *t);
        answered.max(in_flight)
    }
}

/// How often a call held behind a probe looks again.
const PROBE_POLL: Duration = Duration::from_millis(20);

impl Budget {
    /// `window`: the length of Dataverse's sliding window (300 s; the sandbox's may differ).
    pub fn new(window: Duration) -> Self {
        Self {
            window: window.max(Duration::from_secs(1)),
            state: Mutex::new(State::default()),
        }
    }

    /// Admits a call now (its sequence number, for [`Budget::report`]), or says how long until
    /// the budget has room for this priority.
    pub fn admit(&self, priority: Priority, caller: Option<&Arc<str>>) -> Result<u64, Duration> {
        let Ok(mut st) = self.state.lock() else {
            return Ok(0);
        };
        // Taken under the lock, so sequence order is admission order.
        let now = Instant::now();
        self.prune(&mut st, now);
        if st.probing {
            if st.probe.is_some() {
                return Err(PROBE_POLL);
            }
            let seq = st.admit_call(now);
            st.probe = Some(seq);
            return Ok(seq);
        }
        // Slots promised to other callers (told to come back by now) are theirs.
        let own = st
            .promised
            .iter()
            .position(|(c, at)| *at <= now && c.as_ref() == caller);
        let kept_for_others = st
            .promised
            .iter()
            .filter(|(c, at)| *at <= now && c.as_ref() != caller)
            .count() as u64;
        if let Some(limit) = st.limit {
            let left = limit
                .saturating_sub(st.used())
                .saturating_sub(kept_for_others);
            let reserve = reserve(priority, limit);
            if left <= reserve {
                // Room comes when enough of this process's calls have aged out (after those
                // already waiting or told when to come back), or, when others used the budget,
                // once the estimate itself is a window old.
                let needed = (reserve + 1 - left) as usize + st.waiting + st.promised.len();
                let free_at = match st.nth_time(needed - 1) {
                    Some(at) => at + self.window,
                    None => {
                        let last = st.newest().unwrap_or(now);
                        last.max(st.reported_at.unwrap_or(now)) + self.window
                    }
                };
                metrics::counter!("upstream_paced_total", "priority" => priority.label())
                    .increment(1);
                return Err(free_at
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)));
            }
        }
        if let Some(i) = own {
            st.promised.remove(i);
        }
        Ok(st.admit_call(now))
    }

    /// The answer to call `seq` said `remaining` requests are left in the window.
    pub fn report(&self, seq: u64, remaining: u64) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.probe == Some(seq) {
            st.probing = false;
            st.probe = None;
        }
        // Only a newer call's answer: an older one raced it (or preceded a 429) and counts less.
        if seq <= st.reported_seq {
            return;
        }
        let now = Instant::now();
        self.prune(&mut st, now);
        // Only calls Dataverse surely counted in `remaining`: answered (an older call still in
        // flight may arrive after this one) and admitted less than a window ago (an older one may
        // have left Dataverse's window already; `prune` drops those). The estimate errs low,
        // never high.
        let counted = st.answered.partition_point(|(s, _)| *s <= seq) as u64;
        let limit = remaining + counted;
        st.limit = Some(limit);
        st.reported_seq = seq;
        st.reported_at = Some(now);
        metrics::gauge!("upstream_budget_remaining").set(limit.saturating_sub(st.used()) as f64);
    }

    /// Call `seq` has its answer: it counts in the window from now on. Dataverse counted it when it
    /// arrived, somewhere between admission (which may have queued) and now; the later time
    /// makes this process free the slot after Dataverse does, never before.
    pub fn settle(&self, seq: u64) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        let Ok(i) = st.in_flight.binary_search_by_key(&seq, |(s, _)| *s) else {
            // Pruned (in flight longer than a window) or never admitted here.
            return;
        };
        let Some((seq, admitted)) = st.in_flight.remove(i) else {
            return;
        };
        // Answers come in any order: kept by sequence, inserted near the end.
        let at = st.answered.partition_point(|(s, _)| *s < seq);
        st.answered.insert(at, (seq, admitted));
        // Every answer time is at or before now: the list stays in time order.
        st.answered_at.push_back(now);
    }

    /// A call starts or stops waiting for room (counted so refusals point past it).
    pub fn waiting(&self, delta: isize) {
        if let Ok(mut st) = self.state.lock() {
            st.waiting = st.waiting.saturating_add_signed(delta);
        }
    }

    /// `caller` was told to come back in `wait`: a slot is kept for it then.
    pub fn promise(&self, caller: Option<&Arc<str>>, wait: Duration) {
        if let Ok(mut st) = self.state.lock() {
            st.promised
                .push_back((caller.cloned(), Instant::now() + wait));
        }
    }

    /// Dataverse refused call `seq` (429): the estimate was wrong. Its `Retry-After` pauses every
    /// call (`stack::throttle`); after it, one call at a time until an answer reports again, so
    /// the calls held by the pause do not all meet a window that has room for only a few.
    pub fn refused(&self, seq: u64) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        st.limit = None;
        st.reported_at = None;
        st.reported_seq = st.reported_seq.max(seq);
        st.probing = true;
        if st.probe == Some(seq) {
            st.probe = None;
        }
    }

    /// Call `seq` was refused before it was sent (a pause, a full queue): it never counted at
    /// Dataverse, so it leaves the window as if never admitted; a probe it was is over.
    pub fn unsent(&self, seq: u64) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if let Ok(i) = st.in_flight.binary_search_by_key(&seq, |(s, _)| *s) {
            st.in_flight.remove(i);
        }
        if st.probe == Some(seq) {
            st.probe = None;
        }
    }

    /// Call `seq` was given up before its answer (its caller's future dropped): it may have
    /// reached Dataverse, so it counts in the window from now, but a later report does not take
    /// it as counted there (it may never have been sent), so the estimate still errs low; a probe
    /// it was is over.
    pub fn abandoned(&self, seq: u64) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if let Ok(i) = st.in_flight.binary_search_by_key(&seq, |(s, _)| *s) {
            st.in_flight.remove(i);
            st.answered_at.push_back(Instant::now());
        }
        if st.probe == Some(seq) {
            st.probe = None;
        }
    }

    /// Call `seq` ended without a report (an error other than 429): a probe it was is over.
    pub fn unreported(&self, seq: u64) {
        if let Ok(mut st) = self.state.lock() {
            if st.probe == Some(seq) {
                st.probe = None;
            }
        }
    }

    /// What is left as estimated now (`None`: no report yet, or the last one is a window old).
    pub fn remaining(&self) -> Option<u64> {
        let mut st = self.state.lock().ok()?;
        self.prune(&mut st, Instant::now());
        st.limit.map(|l| l.saturating_sub(st.used()))
    }

    fn prune(&self, st: &mut State, now: Instant) {
        st.promised.retain(|(_, at)| *at + PROMISE_GRACE > now);
        let window = self.window;
        let old = |t: &Instant| now.saturating_duration_since(*t) >= window;
        while st.answered_at.front().is_some_and(old) {
            st.answered_at.pop_front();
        }
        while st.in_flight.front().is_some_and(|(_, t)| old(t)) {
            st.in_flight.pop_front();
        }
        // Admitted a window ago: Dataverse may no longer count it, so a report does not either.
        while st.answered.front().is_some_and(|(_, t)| old(t)) {
            st.answered.pop_front();
        }
        if st
            .reported_at
            .is_some_and(|at| now.saturating_duration_since(at) >= self.window)
        {
            st.limit = None;
            st.reported_at = None;
        }
    }
}

/// Requests kept back from a priority: a small margin for partners (answers that raced each
/// other, other clients of the same user), a fifth of the window more for background work.
fn reserve(priority: Priority, limit: u64) -> u64 {
    let margin = 1 + limit / 50;
    match priority {
        Priority::Partner => margin,
        Priority::Background => margin + limit / 5,
    }
}

impl Priority {
    fn label(self) -> &'static str {
        match self {
            Priority::Partner => "partner",
            Priority::Background => "background",
        }
    }
}

/// `x-ms-ratelimit-burst-remaining-xrm-requests` and `x-ms-dop-hint` of an answer.
pub(crate) fn budget_headers(headers: &reqwest::header::HeaderMap) -> (Option<u64>, Option<usize>) {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    (
        num("x-ms-ratelimit-burst-remaining-xrm-requests"),
        num("x-ms-dop-hint").and_then(|n| usize::try_from(n).ok()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the layer does when call `seq` is answered with `remaining` left.
    fn answer(b: &Budget, seq: u64, remaining: u64) {
        b.settle(seq);
        b.report(seq, remaining);
    }

    #[test]
    fn nothing_is_held_before_a_report() {
        let b = Budget::new(Duration::from_secs(30));
        for _ in 0..100 {
            assert!(b.admit(Priority::Background, None).is_ok());
        }
        assert_eq!(b.remaining(), None);
    }

    #[test]
    fn a_report_counts_the_calls_sent_after_it_and_a_late_one_is_ignored() {
        let b = Budget::new(Duration::from_secs(30));
        let first = b.admit(Priority::Partner, None).expect("admitted");
        let second = b.admit(Priority::Partner, None).expect("admitted");
        let third = b.admit(Priority::Partner, None).expect("admitted");
        // The second call's answer: 10 left after it. The first is still in flight: it may reach
        // Dataverse after the second, so it is not taken as counted there (8, not 9).
        answer(&b, second, 10);
        assert_eq!(b.remaining(), Some(8));
        // The first call's answer arrives late with an older, higher count: ignored.
        answer(&b, first, 11);
        assert_eq!(b.remaining(), Some(8));
        // The newest answer, with every call answered: exact again.
        answer(&b, third, 9);
        assert_eq!(b.remaining(), Some(9));
    }

    #[test]
    fn at_zero_nothing_is_sent_and_background_waits_before_partners() {
        let b = Budget::new(Duration::from_secs(30));
        let seq = b.admit(Priority::Partner, None).expect("admitted");
        // Limit 100: partners keep 3 back, background 23.
        answer(&b, seq, 99);
        let mut partner = 0;
        while b.admit(Priority::Partner, None).is_ok() {
            partner += 1;
        }
        assert_eq!(partner, 96, "partners stop at the margin");
        assert!(b.admit(Priority::Background, None).is_err());
        let c = Budget::new(Duration::from_secs(30));
        let seq = c.admit(Priority::Partner, None).expect("admitted");
        answer(&c, seq, 99);
        let mut background = 0;
        while c.admit(Priority::Background, None).is_ok() {
            background += 1;
        }
        assert_eq!(background, 76, "background stops earlier");
        assert!(
            c.admit(Priority::Partner, None).is_ok(),
            "partners still go"
        );
        // Zero reported: held, for about a window (this process's oldest call ages out then).
        let d = Budget::new(Duration::from_secs(30));
        let seq = d.admit(Priority::Partner, None).expect("admitted");
        answer(&d, seq, 0);
        let wait = d.admit(Priority::Partner, None).expect_err("held");
        assert!(
            wait > Duration::from_secs(29) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn after_a_429_one_call_probes_until_an_answer_reports() {
        let b = Budget::new(Duration::from_secs(30));
        let seq = b.admit(Priority::Partner, None).expect("admitted");
        b.settle(seq);
        b.refused(seq);
        let probe = b.admit(Priority::Partner, None).expect("the probe goes");
        assert!(b.admit(Priority::Partner, None).is_err(), "one at a time");
        b.settle(probe);
        b.unreported(probe);
        let probe = b
            .admit(Priority::Background, None)
            .expect("the next probe goes");
        answer(&b, probe, 50);
        assert!(
            b.admit(Priority::Partner, None).is_ok(),
            "paced by the report again"
        );
        assert_eq!(b.remaining(), Some(49));
    }

    #[test]
    fn a_call_refused_before_it_was_sent_costs_nothing_and_ends_its_probe() {
        let b = Budget::new(Duration::from_secs(30));
        let seq = b.admit(Priority::Partner, None).expect("admitted");
        answer(&b, seq, 10);
        assert_eq!(b.remaining(), Some(10));
        // Refused below (a pause, a full queue): neither in flight nor answered, no probing.
        let unsent = b.admit(Priority::Partner, None).expect("admitted");
        assert_eq!(b.remaining(), Some(9));
        b.unsent(unsent);
        assert_eq!(b.remaining(), Some(10), "not counted in the window");
        let next = b.admit(Priority::Partner, None).expect("admitted");
        assert!(
            b.admit(Priority::Partner, None).is_ok(),
            "not one at a time"
        );
        // A later report is taken as before: the unsent call is not among those counted.
        answer(&b, next, 7);
        assert_eq!(b.remaining(), Some(6));

        // A probe refused before it was sent learnt nothing: the next call probes.
        let seq = b.admit(Priority::Partner, None).expect("admitted");
        b.settle(seq);
        b.refused(seq);
        let probe = b.admit(Priority::Partner, None).expect("the probe goes");
        assert!(b.admit(Priority::Partner, None).is_err(), "one at a time");
        b.unsent(probe);
        let probe = b.admit(Priority::Partner, None).expect("the next probe");
        assert!(b.admit(Priority::Partner, None).is_err(), "still one");
        answer(&b, probe, 5);
        assert!(b.admit(Priority::Partner, None).is_ok());
    }

    #[test]
    fn a_slot_promised_to_a_caller_told_to_come_back_is_kept_for_it() {
        let b = Budget::new(Duration::from_secs(30));
        let (a, other): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let seq = b.admit(Priority::Partner, None).expect("admitted");
        // Limit 3, one used: two left, one of them the margin.
        answer(&b, seq, 2);
        b.promise(Some(&a), Duration::ZERO);
        assert!(
            b.admit(Priority::Partner, Some(&other)).is_err(),
            "kept for a"
        );
        assert!(
            b.admit(Priority::Partner, Some(&a)).is_ok(),
            "a gets its slot"
        );
        assert!(b.admit(Priority::Partner, Some(&a)).is_err(), "once");
    }

    #[test]
    fn headers_parse() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "x-ms-ratelimit-burst-remaining-xrm-requests",
            "5993".parse().expect("v"),
        );
        h.insert("x-ms-dop-hint", "4".parse().expect("v"));
        assert_eq!(budget_headers(&h), (Some(5993), Some(4)));
        assert_eq!(
            budget_headers(&reqwest::header::HeaderMap::new()),
            (None, None)
        );
    }
}
