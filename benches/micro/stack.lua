-- An explicit stack: push and pop in a loop (iterative DFS over an implicit binary tree).
local total = 0
for r = 0, 19 do
  local st = {1}
  local n = 1
  while n > 0 do
    local v = st[n]; st[n] = nil; n = n - 1
    total = (total + v * 7) % 1000003
    if v < 50000 then
      n = n + 1; st[n] = 2 * v
      n = n + 1; st[n] = 2 * v + 1
    end
  end
end
print(string.format("%d", total))
