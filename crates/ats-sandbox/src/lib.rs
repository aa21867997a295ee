//! The sandbox: an embedded emulator of the Entra ID token endpoint and of the Dataverse Web API for
//! the HR ATS tables. It is a separate HTTP server; the gateway reaches it only by URL.

pub mod annotations;
pub mod config;
pub mod data;
pub mod entra;
pub mod error;
pub mod faults;
pub mod metadata;
pub mod odata;
pub mod paging;
pub mod schema;
pub mod server;
pub mod store;
pub mod writes;
