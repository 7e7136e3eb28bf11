-- Twin of particles.bp: 2000 particles as tables with a metatable, 500 steps of a method.
local P = {}
P.__index = P
function P.new(x, y, vx, vy) return setmetatable({x = x, y = y, vx = vx, vy = vy}, P) end
function P:step(dt)
  self.vy = self.vy - 9.81 * dt
  self.x = self.x + self.vx * dt
  self.y = self.y + self.vy * dt
  if self.y < 0.0 then self.y = -self.y; self.vy = -self.vy * 0.9 end
  if self.x < 0.0 or self.x > 100.0 then self.vx = -self.vx end
end
local ps = {}
local seed = 5
for i = 1, 2000 do
  seed = (seed * 75 + 74) % 65537
  local x = seed % 100
  seed = (seed * 75 + 74) % 65537
  local y = seed % 50
  seed = (seed * 75 + 74) % 65537
  ps[#ps + 1] = P.new(x + 0.0, y + 0.0, seed % 21 - 10 + 0.0, 0.0)
end
for s = 1, 500 do
  for i = 1, #ps do ps[i]:step(0.01) end
end
local e = 0.0
for i = 1, #ps do local p = ps[i]; e = e + p.vx * p.vx + p.vy * p.vy + p.y end
local v = e * 1000.0
print(string.format("%d", v >= 0 and math.floor(v) or math.ceil(v)))
