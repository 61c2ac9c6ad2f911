-- The rate limit of one API key (shared/tenants/rate_limit.py): GCRA, the generic cell rate algorithm.
-- KEYS[1]: the key's theoretical arrival time (TAT), in ms. ARGV[1]: requests per period;
-- ARGV[2]: the period in ms. Returns 0 when the request may pass (and counts it), else the ms
-- until it would. Redis's own clock, so every API process agrees on "now".
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
-- A full period's worth of requests may come at once (burst = limit), then one per interval.
local allow_at = new_tat - period
if now < allow_at then
  return math.ceil(allow_at - now)
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now))
return 0
