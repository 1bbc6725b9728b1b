"""Level-triggered controllers: keyed work queues, idempotent reconcile, retry with backoff."""
