-- Edit distance of pairs of generated strings by dynamic programming over a
-- table of rows (20 pairs of 300 characters). Positions are 1-based here.
local function edit_distance(a, b)
  local n, m = #a, #b
  local dp = {}
  for i = 0, n do
    local row = {}
    for j = 0, m do row[j] = 0 end
    row[0] = i
    dp[i] = row
  end
  for j = 0, m do dp[0][j] = j end
  for i = 1, n do
    for j = 1, m do
      local cost = 1
      if string.byte(a, i) == string.byte(b, j) then cost = 0 end
      local best = dp[i - 1][j] + 1
      if dp[i][j - 1] + 1 < best then best = dp[i][j - 1] + 1 end
      if dp[i - 1][j - 1] + cost < best then best = dp[i - 1][j - 1] + cost end
      dp[i][j] = best
    end
  end
  return dp[n][m]
end

-- (s * 1103515245 + 12345) mod 2^31 without a product above 2^53 (LuaJIT's
-- numbers are doubles): the multiplier split into its high and low 16 bits.
local function lcg(s)
  local hi = (s * 16838) % 32768
  return (hi * 65536 + s * 20077 + 12345) % 2147483648
end

local function gen(seed, n)
  local parts = {}
  local s = seed
  for i = 1, n do
    s = lcg(s)
    parts[#parts + 1] = string.char(97 + math.floor(s / 65536) % 4)
  end
  return table.concat(parts)
end

local total = 0
for k = 0, 19 do
  local a = gen(k + 1, 300)
  local b = gen(k + 100, 300)
  total = total + edit_distance(a, b)
end
print(total)
