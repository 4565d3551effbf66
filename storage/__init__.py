"""omnirelay's storage layer; imports nothing else of ours.

- `storage.errors`: the exception family (`OmnirelayError` root, `StorageError` branch).
- `storage.keys`, `storage.redis`: Redis key names and TTLs; opening the client.
- `storage.sessions`, `storage.dedup`, `storage.locks`, `storage.mailbox`: per-customer state,
  duplicate filter, customer locks, reply mailbox (memory and Redis implementations each).
- `storage.queue` (+ `queue_memory`, `queue_redis`): the per-key ordered message queue.
- `storage.backends`: `open_backends()` picks memory or Redis for all of the above.
- `storage.models`, `storage.db`, `storage.repositories`, `storage/migrations`: relational data.
- `storage.slots`, `storage.booking_errors`: booking time arithmetic and errors; the
  repositories `bookings` (atomic, no double booking) and `availability` (free slots).

Importing this package has no side effects; submodules are imported explicitly.
"""
