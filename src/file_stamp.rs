//! A watched file's stamp, shared by the reloaders (partners and keys, the Dataverse credential).

/// The file's modification time and length: a change of either means it was written again (the
/// reloaders compare stamps instead of reading the files each tick).
pub fn file_stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
