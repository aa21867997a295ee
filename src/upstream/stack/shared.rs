//! What a cluster (`cluster/`) plugs into the stack so that replicas share the cap on calls in
//! flight and the 429 pause. Nothing installed: the cap and the pause are this process's alone.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::upstream::error::UpstreamError;

/// Held while one call is in flight; its drop frees the cluster slot.
pub type SlotGuard = Box<dyn Send + Sync>;

/// The cluster's answer to "may this call go now?".
pub enum SlotGrant {
    /// A slot under the cluster-wide cap (`None`: no cluster).
    Granted(Option<SlotGuard>),
    /// Another replica saw a 429: wait this long, then ask again.
    Paused(Duration),
}

pub trait ClusterLimits: Send + Sync {
    /// A cluster-wide slot, waiting at most until `deadline` (then `Overloaded`).
    fn slot(&self, deadline: Instant) -> BoxFuture<'static, Result<SlotGrant, UpstreamError>>;
    /// This replica saw a 429 asking for `wait`: every replica pauses.
    fn paused(&self, wait: Duration);
}

/// Installed once, after the client is built (the cluster needs the client's gate).
#[derive(Default)]
pub struct SharedLimits(OnceLock<Arc<dyn ClusterLimits>>);

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "SharedLimits(cluster)"
        } else {
            "SharedLimits(local)"
        })
    }
}

impl SharedLimits {
    /// First install wins (one cluster per process).
    pub fn install(&self, limits: Arc<dyn ClusterLimits>) {
        let _ = self.0.set(limits);
    }

    pub(super) async fn slot(&self, deadline: Instant) -> Result<SlotGrant, UpstreamError> {
        match self.0.get() {
            Some(c) => c.slot(deadline).await,
            None => Ok(SlotGrant::Granted(None)),
        }
    }

    pub(super) fn paused(&self, wait: Duration) {
        if let Some(c) = self.0.get() {
            c.paused(wait);
        }
    }
}
