-- Array kernel: sieve of Eratosthenes up to 2,000,000, repeated 5 times.
-- Index k of the bp array is index k + 1 of the Lua table.
local function sieve(n)
    local flags = {}
    for k = 1, n + 1 do
        flags[k] = true
    end
    flags[1] = false
    flags[2] = false
    local i = 2
    while i * i <= n do
        if flags[i + 1] then
            local j = i * i
            while j <= n do
                flags[j + 1] = false
                j = j + i
            end
        end
        i = i + 1
    end
    local count = 0
    for k = 1, n + 1 do
        if flags[k] then
            count = count + 1
        end
    end
    return count
end

local function main()
    local total = 0
    for r = 0, 4 do
        total = total + sieve(2000000 + r)
    end
    print(string.format("%d", total))
end

main()
