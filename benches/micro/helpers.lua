-- Small helper functions with branches, called in a hot loop: a 3 x 3 box blur
-- over a 200 x 200 grid of ints, 20 passes, with the coordinates clamped at the
-- edges (`clamp_to`: two early returns) and a tone curve on every result
-- (`curve`: if/elseif/else).
local function clamp_to(v, lo, hi)
  if v < lo then return lo end
  if v > hi then return hi end
  return v
end

local function curve(v)
  if v < 64 then
    return v + math.floor(v / 4)
  elseif v < 192 then
    return v
  else
    return v - math.floor((v - 192) / 4)
  end
end

local n, g, seed = 200, {}, 7
for i = 0, n * n - 1 do
  seed = (seed * 75 + 74) % 65537
  g[i] = seed % 256
end
for p = 1, 20 do
  local out = {}
  for y = 0, n - 1 do
    for x = 0, n - 1 do
      local s = 0
      for dy = -1, 1 do
        local row = clamp_to(y + dy, 0, n - 1) * n
        for dx = -1, 1 do
          s = s + g[row + clamp_to(x + dx, 0, n - 1)]
        end
      end
      out[y * n + x] = curve(math.floor(s / 9))
    end
  end
  g = out
end
local sum = 0
for i = 0, n * n - 1 do
  sum = (sum * 31 + g[i]) % 1000003
end
print(sum)
