//! The log lines' writer. A request thread appends its formatted line to a shared buffer (a short
//! lock, no system call); one thread writes what has gathered in one `write` per
//! [`FLUSH_INTERVAL`], at once for a warning or an error. A queue handing over each line woke the
//! writing thread per line: a futex wake on the request path, then that thread's spin and park,
//! about 6 of the 16 system calls of a partner read (measured with `strace -c`). This wakes it
//! once per batch. A full buffer (a stalled sink) drops lines and counts them
//! (`log_lines_dropped_total`) rather than stalling requests: logging never blocks the request path.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long lines gather before they are written (a warning or an error does not wait).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Gathered bytes that wake the writer before the interval is over.
const FLUSH_BYTES: usize = 256 * 1024;
/// Bytes held before lines are dropped: seconds of a busy gateway's lines.
const CAP_BYTES: usize = 16 * 1024 * 1024;

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    /// The writer waits for a first line, not for an interval to end.
    idle: bool,
    /// Write now: a warning or an error is waiting, or `FLUSH_BYTES` have gathered.
    now: bool,
    closed: bool,
}

struct Lines {
    state: Mutex<State>,
    wake: Condvar,
    dropped: AtomicU64,
    interval: Duration,
    cap: usize,
}

impl Lines {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock left whole lines only (one `extend` per line).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, line: &[u8], urgent: bool) {
        let mut st = self.lock();
        if st.closed {
            // Shutting down, the writer has gone: straight to stderr.
            drop(st);
            let _ = io::stderr().write_all(line);
            return;
        }
        if st.buf.len() + line.len() > self.cap {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        st.buf.extend_from_slice(line);
        let wake = if urgent || st.buf.len() >= FLUSH_BYTES {
            !std::mem::replace(&mut st.now, true) || st.idle
        } else {
            st.idle
        };
        if wake {
            st.idle = false;
            self.wake.notify_one();
        }
    }

    /// The writer thread: waits for a first line, lets more gather for the interval (or not, when
    /// told to write now), then writes the batch outside the lock.
    fn run(&self, mut out: impl Write) {
        let mut batch = Vec::new();
        loop {
            let mut st = self.lock();
            while st.buf.is_empty() && !st.closed {
                st.idle = true;
                st = self.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
            if st.buf.is_empty() {
                return; // closed, and everything written
            }
            st.idle = false;
            let until = Instant::now() + self.interval;
            while !st.now && !st.closed {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                st = self
                    .wake
                    .wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            st.now = false;
            std::mem::swap(&mut st.buf, &mut batch);
            drop(st);
            // A sink that fails (stderr closed) loses the batch; nothing else can be done with it.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            if batch.capacity() > 4 * FLUSH_BYTES {
                batch = Vec::new(); // a burst's buffer is not kept
            }
        }
    }
}

/// The `MakeWriter` for the fmt layer; each line's writer knows whether it is a warning or error.
#[derive(Clone)]
pub struct BatchWriter(Arc<Lines>);

impl BatchWriter {
    /// Lines dropped because the buffer was full.
    pub fn dropped_lines(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }
}

/// One line's writer (the fmt layer writes a line with one `write_all`).
pub struct LineWriter<'a> {
    lines: &'a Lines,
    urgent: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.lines.push(line, self.urgent);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            lines: &self.0,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter<'a> {
        LineWriter {
            lines: &self.0,
            // `Level` orders by verbosity: ERROR < WARN < INFO.
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

/// Keeps the writer thread; dropping it writes what is left and joins the thread.
pub struct WriterGuard {
    lines: Arc<Lines>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.lines.lock().closed = true;
        self.lines.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A writer on `out` and its guard.
pub fn spawn(out: impl Write + Send + 'static) -> io::Result<(BatchWriter, WriterGuard)> {
    spawn_with(out, FLUSH_INTERVAL, CAP_BYTES)
}

fn spawn_with(
    out: impl Write + Send + 'static,
    interval: Duration,
    cap: usize,
) -> io::Result<(BatchWriter, WriterGuard)> {
    let lines = Arc::new(Lines {
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
        dropped: AtomicU64::new(0),
        interval,
        cap,
    });
    let run = lines.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || run.run(out))?;
    Ok((
        BatchWriter(lines.clone()),
        WriterGuard {
            lines,
            thread: Some(thread),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink that hands every `write` to the test, and can be held shut.
    struct Sink {
        writes: mpsc::Sender<Vec<u8>>,
        gate: Option<mpsc::Receiver<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(g) = &self.gate {
                let _ = g.recv_timeout(Duration::from_secs(10));
            }
            let _ = self.writes.send(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn sink(gate: Option<mpsc::Receiver<()>>) -> (Sink, mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = mpsc::channel();
        (Sink { writes: tx, gate }, rx)
    }

    fn line(w: &BatchWriter, text: &str, urgent: bool) {
        let mut lw = LineWriter {
            lines: &w.0,
            urgent,
        };
        lw.write_all(text.as_bytes()).expect("write");
    }

    #[test]
    fn lines_arrive_whole_and_in_order_in_fewer_writes_than_lines() {
        let (out, rx) = sink(None);
        let (w, guard) = spawn_with(out, Duration::from_millis(20), CAP_BYTES).expect("spawn");
        for i in 0..1000 {
            line(&w, &format!("line {i}\n"), false);
        }
        drop(guard); // writes what is left
        let writes: Vec<Vec<u8>> = rx.try_iter().collect();
        let text = String::from_utf8(writes.concat()).expect("utf8");
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, expected);
        assert!(writes.len() < 100, "{} writes for 1000 lines", writes.len());
    }

    #[test]
    fn a_warning_is_written_without_waiting_the_interval() {
        let (out, rx) = sink(None);
        let (w, _guard) = spawn_with(out, Duration::from_secs(3600), CAP_BYTES).expect("spawn");
        line(&w, "info\n", false);
        line(&w, "warn\n", true);
        let mut got = Vec::new();
        while got != b"info\nwarn\n" {
            let more = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("the warning (and the info line before it) written within 10 s");
            got.extend(more);
        }
    }

    #[test]
    fn a_full_buffer_drops_and_counts_instead_of_waiting() {
        let (open, gate) = mpsc::channel();
        let (out, rx) = sink(Some(gate));
        let (w, guard) = spawn_with(out, Duration::from_millis(1), 64).expect("spawn");
        // The first line goes to the sink, which holds the writer until the gate opens.
        line(&w, "first\n", true);
        let started = Instant::now();
        for _ in 0..100 {
            line(&w, "0123456789\n", false);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a full buffer blocked"
        );
        assert!(w.dropped_lines() >= 90, "{} dropped", w.dropped_lines());
        for _ in 0..10 {
            let _ = open.send(());
        }
        drop(guard);
        let text = String::from_utf8(rx.try_iter().collect::<Vec<_>>().concat()).expect("utf8");
        assert!(text.starts_with("first\n"), "{text}");
        let kept = text.matches("0123456789\n").count() as u64;
        assert_eq!(kept + w.dropped_lines(), 100, "{text}");
    }
}
