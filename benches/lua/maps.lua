-- Maps: insert, overwrite, lookup, membership and delete with int and str keys.
-- Lua tables have no length for hash keys: the twin counts entries as it goes.
local function main()
    local n = 200000
    local ints, ints_len = {}, 0
    for i = 0, n - 1 do
        local k = (i * 7919) % 1000003
        if ints[k] == nil then
            ints_len = ints_len + 1
        end
        ints[k] = i
    end
    local hits, sum = 0, 0
    for i = 0, 2 * n - 1 do
        local k = (i * 7919) % 1000003
        if ints[k] ~= nil then
            hits = hits + 1
            sum = (sum + ints[k]) % 1000000007
        end
    end
    for i = 0, 1999 do
        local k = (i * 7919) % 1000003
        if ints[k] ~= nil then
            ints_len = ints_len - 1
        end
        ints[k] = nil
    end
    local strs, strs_len = {}, 0
    for i = 0, n - 1 do
        local key = "k" .. tostring(i % 20000)
        if strs[key] ~= nil then
            strs[key] = strs[key] + i
        else
            strs[key] = i
            strs_len = strs_len + 1
        end
    end
    local ssum = 0
    for _ = 0, 4 do
        for i = 0, 19999 do
            ssum = (ssum + strs["k" .. tostring(i)]) % 1000000007
        end
    end
    print(string.format("%d %d %d %d %d", ints_len, hits, sum, strs_len, ssum))
end

main()
