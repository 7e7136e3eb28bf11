-- Map iteration: 20 passes over a 100 k-entry map reading m[k] for every k in m.
local m = {}
for i = 0, 99999 do m[i * 7] = i end
local s = 0
for r = 1, 20 do
  for k, v in pairs(m) do s = (s + k + v) % 1000003 end
end
print(string.format("%d", s))
