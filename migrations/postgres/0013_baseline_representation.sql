-- The representation version each resource's fingerprints were taken of (ResourceType's
-- `representation`): a release that changes a representation re-baselines instead of emitting
-- `updated` for every record, and a replica of an older release does not record over it.
-- Baselines recorded before this column are of version 1, the first.
ALTER TABLE change_baselines ADD COLUMN representation integer NOT NULL DEFAULT 1;
