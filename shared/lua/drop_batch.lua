-- Cancelling a batch (shared/jobs/cancel.py): drop its waiting messages from a pool's lists.
-- KEYS: the pool's lane lists. ARGV[1]: the batch's header as the messages hold it,
-- '"voxq_batch": "<id>"' (shared/jobs/queue.py `message`). The other messages keep their order.
local dropped = 0
for _, key in ipairs(KEYS) do
  local items = redis.call('LRANGE', key, 0, -1)
  local kept = {}
  for i = 1, #items do
    if string.find(items[i], ARGV[1], 1, true) then
      dropped = dropped + 1
    else
      table.insert(kept, items[i])
    end
  end
  if #kept < #items then
    redis.call('DEL', key)
    -- LRANGE read left to right; RPUSH in that order puts them back as they were.
    for i = 1, #kept, 1000 do
      redis.call('RPUSH', key, unpack(kept, i, math.min(i + 999, #kept)))
    end
  end
end
return dropped
