-- lua5.1 deploy/argocd/tests/run_health.lua HEALTH_LUA < object
-- The object on stdin is a chunk returning the Queue as a table; prints "status<TAB>message".
local dir = string.match(arg[0], "^(.*)/[^/]*$") or "."
local sandbox = dofile(dir .. "/sandbox.lua")
local result = sandbox.run(arg[1], sandbox.read_object())
if type(result) ~= "table" then
  error("the health script returned " .. type(result) .. ", not a table")
end
local known = {
  Healthy = true, Progressing = true, Degraded = true, Suspended = true, Missing = true,
  Unknown = true,
}
if not known[result.status] then
  error("the health script returned status " .. tostring(result.status))
end
if type(result.message) ~= "string" then
  error("the health script returned no message")
end
io.write(result.status, "\t", result.message, "\n")
