"""The Lua scripts of the Redis store: each runs atomically on the server in one round trip.

A script is what makes a read-then-write safe against other processes
without the store's lock: the rate limit check (``HIT``), an upload's put with
its sweep of expired ones, a task's indexes, and a record kept in creation
order. Times arrive as Python's ``repr`` of a float, which Redis and Lua parse
back to the same double.
"""

# A sliding-window log per key, as MemoryStore keeps it: at most ``limit`` hit times, the oldest first.
# KEYS: the log (a list), the limits (hash: key -> limit), the idle index (zset: key -> its last hit).
# ARGV: key, limit, window, now, the logs' key prefix, now - window (a few logs whose last hit is older
# are forgotten, as MemoryStore sweeps them). Returns 1 when the hit is counted, 0 when over.
HIT = """
local limit = tonumber(ARGV[2])
if limit <= 0 then return 0 end
local window, now = tonumber(ARGV[3]), tonumber(ARGV[4])
-- forget a few idle logs: they would allow anything anyway
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[6], 'LIMIT', 0, 4)) do
  redis.call('DEL', ARGV[5] .. name)
  redis.call('HDEL', KEYS[2], name)
  redis.call('ZREM', KEYS[3], name)
end
local log = KEYS[1]
local n = redis.call('LLEN', log)
if n > limit then  -- the limit was lowered at run time: keep the newest
  redis.call('LTRIM', log, n - limit, -1)
  n = limit
end
while n > 0 and now - tonumber(redis.call('LINDEX', log, 0)) >= window do
  redis.call('LPOP', log)
  n = n - 1
end
redis.call('HSET', KEYS[2], ARGV[1], limit)
if n >= limit then return 0 end
redis.call('RPUSH', log, ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return 1
"""

# Keep an upload, first forgetting those expired by ``now`` (as MemoryStore's expiry heap does).
# KEYS: the expiry index (zset: key -> expires at). ARGV: the uploads' key prefix, key, bytes, expires at, now.
# Returns the bytes and expiry it had before (nils if none).
PUT_UPLOAD = """
local before = redis.call('HMGET', ARGV[1] .. ARGV[2], 'd', 'e')
for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[5])) do
  redis.call('DEL', ARGV[1] .. name)
  redis.call('ZREM', KEYS[1], name)
end
redis.call('HSET', ARGV[1] .. ARGV[2], 'd', ARGV[3], 'e', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
return before
"""

# A new task and its indexes. KEYS: the task, every task (zset by sequence), the account's tasks (zset by
# submission time; members are "<sequence>|<id>" so that equal times keep their order), the end index
# (zset by final time), the lane's queue (list), the accounts with tasks (zset by first sequence), the sequence,
# the account's briefs (hash: id -> the task list's fields, mockserver.lifecycle.brief).
# ARGV: id, task JSON, submitted at, finished at, account, "1" for a synchronous call (queued nowhere), brief JSON.
ADD_TASK = """
local seq = redis.call('INCR', KEYS[7])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], string.format('%016d|', seq) .. ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
if ARGV[6] ~= '1' then redis.call('RPUSH', KEYS[5], ARGV[1]) end
redis.call('ZADD', KEYS[6], 'NX', seq, ARGV[5])
redis.call('HSET', KEYS[8], ARGV[1], ARGV[7])
"""

# Replace a task's record, its final time and its brief; a task no longer held (purged) stays gone.
# KEYS: the task, the end index, the account's briefs. ARGV: id, task JSON, finished at, brief JSON.
# Returns the record it replaced (nil if none).
SAVE_TASK = """
local before = redis.call('GET', KEYS[1])
if not before then return false end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
return before
"""

# A record in a hash whose fields keep the order they were first written in (a zset of sequences).
# KEYS: the hash, its order, the sequence. ARGV: field, value, "1" to keep an existing value (first
# writer wins). Returns the value kept, the value before (nil if none) and 1 if anything changed.
PUT_ORDERED = """
local before = redis.call('HGET', KEYS[1], ARGV[1])
if before and ARGV[3] == '1' then return {before, before, 0} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
return {ARGV[2], before, 1}
"""

# Release the store's lock only if it is still ours. KEYS: the lock. ARGV: our token.
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Keep holding the store's lock through a long unit of work (a restore), if it is still ours.
# KEYS: the lock. ARGV: our token, milliseconds to hold it from now.
REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
