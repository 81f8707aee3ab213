-- lua5.1 deploy/argocd/tests/run_actions.lua discovery DISCOVERY_LUA < object
--   prints one "name<TAB>disabled" line per action, sorted by name;
-- lua5.1 deploy/argocd/tests/run_actions.lua action ACTION_LUA < object
--   prints the object the action returns, as JSON.
local dir = string.match(arg[0], "^(.*)/[^/]*$") or "."
local sandbox = dofile(dir .. "/sandbox.lua")

local function json_string(s)
  local escaped = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then
      return '\\"'
    elseif c == "\\" then
      return "\\\\"
    elseif c == "\n" then
      return "\\n"
    elseif c == "\t" then
      return "\\t"
    end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

local function json(v)
  local t = type(v)
  if t == "string" then
    return json_string(v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then
      return string.format("%d", v)
    end
    return string.format("%.17g", v)
  elseif t == "table" then
    local n = 0
    for _ in pairs(v) do
      n = n + 1
    end
    if n > 0 and n == #v then
      local items = {}
      for i = 1, n do
        items[i] = json(v[i])
      end
      return "[" .. table.concat(items, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do
      table.insert(keys, tostring(k))
    end
    table.sort(keys)
    local items = {}
    for _, k in ipairs(keys) do
      table.insert(items, json_string(k) .. ":" .. json(v[k]))
    end
    return "{" .. table.concat(items, ",") .. "}"
  end
  error("cannot write a " .. t .. " as JSON")
end

local mode, path = arg[1], arg[2]
local result = sandbox.run(path, sandbox.read_object())
if type(result) ~= "table" then
  error("the script returned " .. type(result) .. ", not a table")
end
if mode == "discovery" then
  local names = {}
  for name, action in pairs(result) do
    if type(action) ~= "table" then
      error("action " .. tostring(name) .. " is not a table")
    end
    table.insert(names, name)
  end
  table.sort(names)
  for _, name in ipairs(names) do
    io.write(name, "\t", tostring(result[name].disabled == true), "\n")
  end
elseif mode == "action" then
  io.write(json(result), "\n")
else
  error("mode must be discovery or action, not " .. tostring(mode))
end
