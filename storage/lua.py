"""Lua scripts for leases held under a random owner token (customer locks, queue partitions).

Each runs atomically on keys of one hash slot (a lease and what it guards share the slot's
hash tag), so they are safe on a Redis Cluster too.
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

#: KEYS[1] = lease key, KEYS[2] = fence counter (same slot); ARGV[1] = owner, ARGV[2] = lease
#: ms. Takes a free lease and hands it the next fencing token: the lease's value becomes
#: ``owner:token``. Returns the token, or 0 when somebody else holds the lease.
ACQUIRE_FENCED = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
  return token
end
return 0
"""

#: KEYS[1] = lease key, KEYS[2] = stream (same slot); ARGV = holder (``owner:token``),
#: group, consumer, count, start id. Reads for the group only while the caller still holds
#: the lease: a process that wakes up from a stall cannot take entries that now belong to the
#: new holder. Returns false when the lease is lost, else {entries, last generated id}.
READ_FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local got = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4],
  'STREAMS', KEYS[2], ARGV[5])
local last = '0-0'
local info = redis.call('XINFO', 'STREAM', KEYS[2])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
end
local entries = {}
if got then entries = got[1][2] end
return {entries, last}
"""

#: KEYS[1] = lease key, KEYS[2] = stream; ARGV = holder, group, entry id. Acks and deletes
#: the entry only while the caller holds the lease. 1 when acked, 0 when the lease is lost.
ACK_FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[2], ARGV[3])
return 1
"""

#: KEYS[1] = counter; ARGV[1] = a value. Raises the counter to ARGV[1] if it is lower.
RAISE_TO = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""
