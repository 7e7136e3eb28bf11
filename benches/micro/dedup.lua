-- Twin of dedup.bp: a set as a table of 1 M random ints in 0..200 k, membership tests, deletes.
local seen = {}
local seed = 9
local distinct = 0
for i = 1, 1000000 do
  seed = (seed * 1103 + 12345) % 1000003
  local k = seed % 200000
  if seen[k] == nil then seen[k] = true; distinct = distinct + 1 end
end
local hits = 0
for i = 0, 199999 do if seen[i * 7 % 200000] ~= nil then hits = hits + 1 end end
local left = distinct
for i = 0, 99999 do if seen[i] ~= nil then seen[i] = nil; left = left - 1 end end
print(string.format("%d %d %d", distinct, hits, left))
