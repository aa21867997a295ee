//! The gateway's upstream layer: Entra client-credentials tokens (`token`), the typed OData query
//! builder (`odata`, the only writer of OData query options), the Dataverse Web API client (`client`)
//! and the resilience layers it sends through (`stack`), with the wire formats in `wire`.
//! It knows nothing about partners or the sandbox: it talks to whatever URLs it is configured with.

pub mod client;
pub mod error;
pub mod from_config;
pub mod odata;
pub mod pacing;
pub mod rotation;
pub mod secret;
pub mod stack;
pub mod token;
mod wire;

#[cfg(test)]
pub(crate) mod testutil;

pub use client::{DataverseClient, DataverseConfig, Page, RawPage, RawRow, Row};
pub use error::{TokenEndpointError, UpstreamError};
pub use odata::{CmpOp, Expand, Filter, Literal, Order, Query, QueryError, StrFn};
pub use secret::Secret;
pub use stack::{BreakerState, ResilienceConfig};
pub use token::{AccessToken, CertificateCredential, ClientCredential, TokenConfig, TokenProvider};
