-- Globals: a void function adding to two globals, 10 M calls.
counter = 0
total = 0.0
function bump(x)
  counter = counter + x % 3
  total = total + x * 0.5
end
for i = 0, 9999999 do bump(i) end
print(string.format("%d %g", counter, total))
