-- Text scanning: a tokenizer over 1.2 MB of generated source text, one character
-- at a time (string.sub, string.byte, == on one-character strings), a string.sub
-- per word, keywords found by string comparison. 5 passes, 6 M characters.
-- Position i of the bp string is position i + 1 of the Lua string; string.sub past
-- the end gives "", as bp's str_char_at does.

-- (s * 1103515245 + 12345) mod 2^31 without a product above 2^53, which LuaJIT's
-- doubles could not hold exactly: the multiplier is split into its high and low
-- 16 bits, and the high part only matters modulo 2^15.
local function lcg(s)
    local hi = (s * 16838) % 32768
    return (hi * 65536 + s * 20077 + 12345) % 2147483648
end

local function is_word_code(k)
    return (k >= 97 and k <= 122) or (k >= 48 and k <= 57) or k == 95
end

local function main()
    local words = {"alpha", "beta", "x1", "count_2", "total", "if", "while", "return"}
    local ops = {"+", "-", "*", "(", ")", "=", "==", ",", ":"}
    local parts, np = {}, 0
    local seed = 7
    for i = 0, 199999 do
        seed = lcg(seed)
        local r = seed % 10
        np = np + 1
        if r < 5 then
            parts[np] = words[math.floor(seed / 16) % 8 + 1]
        elseif r < 8 then
            parts[np] = string.format("%d", seed % 100000)
        else
            parts[np] = ops[math.floor(seed / 16) % 9 + 1]
        end
        np = np + 1
        if i % 12 == 11 then
            parts[np] = "\n"
        else
            parts[np] = " "
        end
    end
    local text = table.concat(parts)
    local n = #text
    local idents, keywords, numbers, operators, lines, checksum = 0, 0, 0, 0, 0, 0
    for round = 0, 4 do
        local i = 0
        while i < n do
            local c = string.sub(text, i + 1, i + 1)
            local k = string.byte(c)
            if (k >= 97 and k <= 122) or c == "_" then
                local start = i
                while i < n and is_word_code(string.byte(text, i + 1)) do
                    i = i + 1
                end
                local word = string.sub(text, start + 1, i)
                idents = idents + 1
                if word == "if" or word == "while" or word == "return" then
                    keywords = keywords + 1
                end
                checksum = (checksum * 31 + #word) % 1000003
            elseif k >= 48 and k <= 57 then
                local v = 0
                while i < n and string.byte(text, i + 1) >= 48 and string.byte(text, i + 1) <= 57 do
                    v = v * 10 + string.byte(text, i + 1) - 48
                    i = i + 1
                end
                numbers = numbers + 1
                checksum = (checksum + v) % 1000003
            elseif c == "\n" then
                lines = lines + 1
                i = i + 1
            elseif c == " " then
                i = i + 1
            else
                operators = operators + 1
                if c == "=" and string.sub(text, i + 2, i + 2) == "=" then
                    i = i + 2
                else
                    i = i + 1
                end
            end
        end
    end
    print(string.format("%d %d %d %d %d %d %d", n, idents, keywords, numbers, operators, lines, checksum))
end

main()
