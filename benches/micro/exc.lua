-- Exceptions: a throw every 7th of 2 M calls, caught.
local function check(i)
  if i % 7 == 0 then error("bad " .. tostring(i)) end
  return i * 2
end
local total, caught = 0, 0
for i = 0, 1999999 do
  local ok, v = pcall(check, i)
  if ok then total = total + v else caught = caught + 1 end
end
print(string.format("%d %d", total, caught))
