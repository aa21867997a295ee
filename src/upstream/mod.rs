pub mod error;
pub mod odata;
pub mod secret;
