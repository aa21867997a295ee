//! The sandbox: an embedded emulator of the Entra ID token endpoint and of the Dataverse Web API for
//! the HR ATS tables. It is a separate HTTP server; the gateway reaches it only by URL.

mod annotations;
pub mod config;
mod data;
pub mod entra;
mod error;
mod faults;
mod metadata;
mod odata;
mod paging;
mod record;
mod request_log;
mod schema;
pub mod server;
mod store;
pub mod tls;
mod writes;
