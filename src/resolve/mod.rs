//! Turning Dataverse's GUIDs and integers into what partners read: option-set labels and keys
//! (from the environment's metadata), lookup names (batched, cached), the caller's language.
pub mod departments;
pub mod lang;
pub mod lookups;
pub mod options;
pub mod shared;
