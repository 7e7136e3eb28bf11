-- Enums: match on an enum in a called function, 10 M calls.
local ADD, SUB, MUL, NOP = 0, 1, 2, 3
-- bp's % truncates toward zero (C); Lua's floors.
local fmod = math.fmod
local function apply(op, a, b)
  if op == ADD then return a + b
  elseif op == SUB then return a - b
  elseif op == MUL then return fmod(a * b, 1000003)
  else return a end
end
local ops = {ADD, MUL, SUB, NOP, MUL}
local acc = 1
for i = 0, 9999999 do
  acc = fmod(apply(ops[i % 5 + 1], acc, i % 100 + 1), 1000003)
end
print(string.format("%d", acc))
