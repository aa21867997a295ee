//! Log capture: one global TRACE subscriber per test binary (the server, argon2 and the token
//! refresher log from other threads, so a thread-local one would miss lines), writing into a
//! buffer that tests read.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn buf() -> &'static Buf {
    static BUF: OnceLock<Buf> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Buf::default();
        let writer = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(sub).expect("subscriber");
        buf
    })
}

/// Starts capturing (idempotent); call before starting servers.
pub fn capture() {
    let _ = buf();
}

/// Everything logged so far in this test binary.
pub fn text() -> String {
    String::from_utf8_lossy(&buf().0.lock().expect("lock")).into_owned()
}
