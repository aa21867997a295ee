//! The sandbox: an embedded emulator of the Entra ID token endpoint and of the Dataverse Web API for
//! the HR ATS tables. It is a separate HTTP server; the gateway reaches it only by URL.

pub mod data;
pub mod error;
pub mod schema;
pub mod store;
pub mod writes;
