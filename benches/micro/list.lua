-- A linked list of 300 k class instances (Node?), walked 50 times.
local head = nil
for i = 0, 299999 do head = {value = i, next = head} end
local total = 0
for r = 1, 50 do
  local at = head
  while at ~= nil do total = total + at.value; at = at.next end
end
print(string.format("%d", total))
