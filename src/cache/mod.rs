//! Caches of partner responses: [`ResponseCache`] (mapped bodies, keyed after the partner's rights
//! by [`KeyBuilder`]).

pub mod key;
pub mod response;

pub use key::{CacheKey, KeyBuilder};
pub use response::{Cached, Resource, ResponseCache, Scope};
