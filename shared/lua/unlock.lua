-- Deletes a lock only if it still holds this holder's token (it may have expired and been taken).
-- KEYS[1]: the lock; ARGV[1]: the token.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
