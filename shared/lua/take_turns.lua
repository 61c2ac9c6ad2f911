-- Fair share in a bulk lane (shared/jobs/queue.py): batches take turns.
-- KEYS[1]: a bulk lane's list. ARGV: new messages, in the order they were submitted.
-- The list is consumed from its right end (BRPOP). Rebuild it so that batches take turns:
-- one message of each batch in the order the batches first appear, then again.
local key = KEYS[1]
if redis.call('LLEN', key) == 0 then
  -- Nothing waits: the new batch alone, in order (no rebuild).
  for i = 1, #ARGV, 1000 do
    redis.call('LPUSH', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
  return #ARGV
end
local items = redis.call('LRANGE', key, 0, -1)
local order, lines = {}, {}
local function add(item)
  local batch = string.match(item, '"voxq_batch": "([^"]*)"') or ''
  if lines[batch] == nil then
    lines[batch] = {}
    table.insert(order, batch)
  end
  table.insert(lines[batch], item)
end
for i = #items, 1, -1 do add(items[i]) end
for i = 1, #ARGV do add(ARGV[i]) end
redis.call('DEL', key)
local turn, out = 1, {}
local left = #items + #ARGV
while left > 0 do
  for _, batch in ipairs(order) do
    local item = lines[batch][turn]
    if item then
      table.insert(out, item)
      left = left - 1
      if #out == 1000 then
        redis.call('LPUSH', key, unpack(out))
        out = {}
      end
    end
  end
  turn = turn + 1
end
if #out > 0 then redis.call('LPUSH', key, unpack(out)) end
return #items + #ARGV
