pub mod error;
pub mod odata;
pub mod secret;
pub mod token;
#[cfg(test)]
pub(crate) mod testutil;
