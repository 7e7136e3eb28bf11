-- Twin of cells.bp: counter and accumulator closures with upvalues, 2 M calls.
local function make_counter(step)
  local n = 0
  return function() n = n + step; return n end
end
local total = 0
for r = 0, 1999 do
  local c = make_counter(r % 7 + 1)
  local acc = 0
  local add = function(x) acc = acc + x end
  for i = 1, 1000 do add(c()) end
  total = (total + acc) % 1000000007
end
print(string.format("%d", total))
