-- String equality: counting 4 keywords among 2 M words of a 1,000-word list (no table lookup).
local words = {}
local kinds = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
for i = 0, 999 do
  words[#words + 1] = kinds[((i * 7 + math.floor(i / 3)) % 8) + 1] .. tostring(i % 3)
end
local a, b = 0, 0
for r = 1, 2000 do
  for _, w in ipairs(words) do
    if w == "alpha0" or w == "gamma1" then a = a + 1
    elseif w == "theta2" or w == "zeta0" then b = b + 1 end
  end
end
print(string.format("%d %d", a, b))
