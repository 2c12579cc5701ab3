"""The service: one module per resource. The CLI and the API both call these."""
