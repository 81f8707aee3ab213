-- Actions on a streamforge.io/v1alpha1 Queue: suspend and resume (spec.suspend).
local actions = {}
local suspended = obj.spec ~= nil and obj.spec.suspend == true
local finished = false
if obj.status ~= nil then
  finished = obj.status.phase == "Succeeded" or obj.status.phase == "Failed"
end
actions["suspend"] = {["disabled"] = suspended or finished}
actions["resume"] = {["disabled"] = (not suspended) or finished}
return actions
