-- Structs: 1,000 particles (four float fields) moved 2,000 steps.
local ps = {}
for i = 0, 999 do ps[#ps + 1] = {x = i, y = 0.0, vx = 1.0, vy = (i % 7) * 0.1} end
for step = 0, 1999 do
  for j = 1, #ps do
    local p = ps[j]
    p.x = p.x + p.vx * 0.01
    p.y = p.y + p.vy * 0.01
    if p.y > 10.0 then p.vy = -p.vy end
  end
end
local sx = 0.0
for j = 1, #ps do sx = sx + ps[j].x + ps[j].y end
print(string.format("%d", math.floor(sx * 1000.0)))
