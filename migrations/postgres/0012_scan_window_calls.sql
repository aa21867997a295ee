-- The scanner's Dataverse calls in its budget window as of the last recorded scan: a replica that
-- takes the scan lease over starts its window from it instead of empty, so a failover (a rolling
-- restart) does not let each new leader spend the scanner's whole share again.
ALTER TABLE change_scan_lease ADD COLUMN window_calls integer NOT NULL DEFAULT 0;
