-- Twin of inventory.bp: a table of 500 items by name, updated through methods.
local Item = {}
Item.__index = Item
function Item.new(qty, price) return setmetatable({qty = qty, price = price, sold = 0}, Item) end
function Item:sell(n)
  if n > self.qty then return 0 end
  self.qty = self.qty - n
  self.sold = self.sold + n
  return n * self.price
end
function Item:restock(n) self.qty = self.qty + n end
local names, inv = {}, {}
for i = 0, 499 do
  local name = "item" .. tostring(i)
  names[#names + 1] = name
  inv[name] = Item.new(i % 50 + 10, i % 13 + 1)
end
local revenue, seed = 0, 1
for r = 1, 500000 do
  seed = (seed * 75 + 74) % 65537
  local it = inv[names[seed % 500 + 1]]
  local got = it:sell(seed % 5 + 1)
  if got == 0 then it:restock(20) end
  revenue = revenue + got
end
local sold = 0
for k, v in pairs(inv) do sold = sold + v.sold end
print(string.format("%d %d", revenue, sold))
