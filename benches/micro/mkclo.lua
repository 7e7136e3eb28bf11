-- Closure creation: a closure made per call of apply(f, i), 3 M calls.
local function apply(f, x) return f(x) end
local total = 0
for i = 0, 2999999 do
  local k = i % 7
  total = (total + apply(function(x) return x * k + 1 end, i)) % 1000003
end
print(string.format("%d", total))
