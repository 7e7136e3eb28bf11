-- A dispatch table of functions looked up by name per step.
local t = {}
t.add = function(a, b) return (a + b) % 1000003 end
t.sub = function(a, b) return (a - b + 1000003) % 1000003 end
t.mul = function(a, b) return (a * b) % 1000003 end
t.xor = function(a, b) return bit.bxor(a, b) end
local names = {"add", "mul", "sub", "xor", "add", "mul"}
local acc = 1
for i = 0, 999999 do
  local f = t[names[i % 6 + 1]]
  acc = f(acc, i)
end
print(acc)
