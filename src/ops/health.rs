//! Health (`/healthz`: the process runs) and readiness (`/readyz`: Dataverse is reachable).
