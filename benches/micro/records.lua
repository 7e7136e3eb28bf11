-- Records as tables: 200 k small tables of five string keys made, read and summed.
local total = 0
for round = 1, 4 do
  local recs = {}
  for i = 0, 49999 do
    local r = {}
    r.id = i; r.age = 20 + i % 50; r.score = (i * 37) % 1000; r.level = i % 7; r.group = i % 13
    recs[#recs + 1] = r
  end
  for k = 1, #recs do
    local r = recs[k]
    if r.age > 40 and r.level ~= 3 then total = (total + r.score * r.group + r.id) % 1000003 end
  end
end
print(total)
