"""Lua scripts for leases held under a random owner token (customer locks, queue partitions).

Both run atomically on one key, so they are safe on a Redis Cluster too.
"""

from __future__ import annotations

#: KEYS[1] = lease key; ARGV[1] = owner token; ARGV[2] = lease ms. 1 when renewed, else 0.
RENEW_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

#: KEYS[1] = lease key; ARGV[1] = owner token. 1 when deleted, 0 when someone else owns it.
RELEASE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
