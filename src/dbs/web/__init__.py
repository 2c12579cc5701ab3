"""HTTP faces of the service (health today; the DBS-compatible API later)."""
