-- Strings: formatting, join / split, and concatenation in a loop.
-- Lua has no split: `split` keeps empty pieces, as bp's str_split does.
local function split(s, sep)
    local out, n, start = {}, 0, 1
    while true do
        local at = string.find(s, sep, start, true)
        if not at then
            break
        end
        n = n + 1
        out[n] = string.sub(s, start, at - 1)
        start = at + #sep
    end
    out[n + 1] = string.sub(s, start)
    return out
end

local function main()
    local checksum, total_len = 0, 0
    for round = 0, 599 do
        local parts = {}
        for i = 0, 999 do
            parts[i + 1] = "item" .. i .. "-" .. round
        end
        local joined = table.concat(parts, ",")
        local pieces = split(joined, ",")
        total_len = total_len + #joined + #pieces
        local s = ""
        for j = 0, 499 do
            s = s .. tostring(j % 10) .. pieces[j + 1]
        end
        local back = table.concat(split(s, "-"), "+")
        checksum = (checksum * 31 + #back + string.byte(back, round + 1)) % 1000003
    end
    print(string.format("%d %d", total_len, checksum))
end

main()
