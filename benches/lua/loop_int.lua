-- Integer loop: 50M iterations of a sum with multiply, xor, shift and modulo.
--
-- Lua 5.4 spells xor and shift as operators (`~`, `>>`); LuaJIT has no such
-- operators but the functions of its `bit` library (32-bit; the operands here stay
-- below 2^31). The kernel is compiled from source in the spelling of the running Lua
-- so that neither pays a function call per operator.
local OPS = {
    XOR = { infix = "~", bit = "bit.bxor" },
    SHR = { infix = ">>", bit = "bit.rshift" },
}

local function compile(src)
    src = src:gsub("(%u+)%(([%w_]+), ([%w_]+)%)", function(op, a, b)
        if bit then
            return OPS[op].bit .. "(" .. a .. ", " .. b .. ")"
        end
        return "(" .. a .. " " .. OPS[op].infix .. " " .. b .. ")"
    end)
    return assert((loadstring or load)(src))()
end

local kernel = compile([[
return function(n)
    local total = 0
    for i = 0, n - 1 do
        local s = SHR(i, 3)
        total = (total + i * 7 + XOR(i, s)) % 1000000007
    end
    return total
end
]])

print(string.format("%d", kernel(50000000)))
