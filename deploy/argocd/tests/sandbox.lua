-- Shared by the runners: read the object from stdin ("return { ... }") and run a script the
-- way Argo CD does, with `obj` global and without io, os, dofile, loadstring or require.
local sandbox = {}

function sandbox.read_object()
  local chunk = io.read("*a")
  local load_object, err = loadstring(chunk, "=object")
  if load_object == nil then
    error("the object is not a Lua table constructor: " .. err)
  end
  setfenv(load_object, {})
  return load_object()
end

function sandbox.run(path, object)
  local script, err = loadfile(path)
  if script == nil then
    error(err)
  end
  local env = {
    obj = object,
    ipairs = ipairs, pairs = pairs, next = next, type = type, select = select,
    tostring = tostring, tonumber = tonumber, error = error, pcall = pcall, unpack = unpack,
    string = string, table = table, math = math,
  }
  setfenv(script, env)
  return script()
end

return sandbox
