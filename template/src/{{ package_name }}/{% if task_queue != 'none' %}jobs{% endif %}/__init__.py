"""Background jobs (H01-H07): recorded in PostgreSQL, run by workers, visible through the API."""
