//! A TCP proxy on a free loopback port in front of a server the test started (Postgres, Redis), for
//! outages the server itself cannot stage while it keeps its data: `cut` closes every connection
//! and refuses new ones (accepted, then closed), `black_hole` keeps connections open but forwards
//! nothing either way (the proxy's kernel still acknowledges what the client sends, so no TCP
//! timeout fires: a hung server, or a proxy whose upstream is gone), `restore` forwards new
//! connections again. A connection that was black-holed stays silent after `restore` (its bytes
//! were lost: a restored server does not know it); one that was cut is closed.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Cut,
    BlackHole,
}

pub struct TcpProxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    accept: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Forwards `127.0.0.1:{port}` to `127.0.0.1:{target}` until told otherwise.
    pub async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        let target: SocketAddr = ([127, 0, 0, 1], target).into();
        let (mode, rx) = watch::channel(Mode::Forward);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, target, rx.clone()));
            }
        });
        Self { port, mode, accept }
    }

    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    pub fn black_hole(&self) {
        self.mode.send_replace(Mode::BlackHole);
    }

    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Cut);
        self.accept.abort();
    }
}

/// One client connection: forwarded while the mode is `Forward` and always was for it.
async fn relay(client: TcpStream, target: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let now = *mode.borrow_and_update();
    let server = match now {
        Mode::Forward => TcpStream::connect(target).await.ok(),
        Mode::Cut => return,
        Mode::BlackHole => None,
    };
    // Lost bytes: once black-holed, never forwarded again.
    let mut lost = server.is_none();
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = match server {
        Some(s) => {
            let (r, w) = s.into_split();
            (Some(r), Some(w))
        }
        None => (None, None),
    };
    let (mut up, mut down) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Cut => return,
            Mode::BlackHole => lost = true,
            Mode::Forward => {}
        }
        tokio::select! {
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            n = cr.read(&mut up) => {
                let Ok(n @ 1..) = n else { return };
                if !lost {
                    if let Some(w) = sw.as_mut() {
                        if w.write_all(&up[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
            n = async {
                match sr.as_mut() {
                    Some(r) if !lost => r.read(&mut down).await,
                    _ => std::future::pending().await,
                }
            } => {
                let Ok(n @ 1..) = n else { return };
                if cw.write_all(&down[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
