-- Gives back a quota reservation, if today's counter still exists (it may have expired).
-- KEYS[1]: the counter; ARGV[1]: the amount reserved.
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECRBY', KEYS[1], ARGV[1]) end
return 0
