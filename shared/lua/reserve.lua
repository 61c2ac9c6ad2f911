-- A daily quota (shared/tenants/quota.py): check and take a whole submission's amount in one step, so
-- two API processes can never both take the last of it.
-- KEYS[1]: one tenant's counter for one UTC day. ARGV[1]: the amount; ARGV[2]: the quota;
-- ARGV[3]: the counter's expiry (s). Returns {1, used after} when taken, {0, used} when not.
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount, quota = tonumber(ARGV[1]), tonumber(ARGV[2])
if used + amount > quota then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], amount)
if redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {1, used}
