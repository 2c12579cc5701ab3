"""The ``dbs`` command: thin, parses and prints; the work is in `dbs.service`."""
