"""Running backup and restore work: progress, throttling, the runner, executors, the scheduler."""
