-- Health of a streamforge.io/v1alpha1 Queue for Argo CD (rules: deploy/argocd/README.md).
local hs = {}

local function condition(status, type_)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

local function is_true(c)
  return c ~= nil and c.status == "True"
end

local function said(status, fallback)
  if status.message ~= nil and status.message ~= "" then
    return status.message
  end
  return fallback
end

-- Records the main worker reported in the current run. The per-producer summary carries its
-- run; status.recordsWritten alone may still hold the previous run's count after a resume.
local function records_this_run(status)
  if status.producers ~= nil and status.telemetryId ~= nil then
    for _, p in ipairs(status.producers) do
      if p.telemetryId == status.telemetryId then
        if p.run == nil or status.run == nil or p.run == status.run then
          return p.recordsWritten or 0
        end
        return 0
      end
    end
    return 0
  end
  return status.recordsWritten or 0
end

-- A worker that met a passing failure and exits for its Job to retry it (not final).
local function retrying(status)
  if status.producers == nil then
    return ""
  end
  for _, p in ipairs(status.producers) do
    if p.status == "retrying" and (p.run == nil or status.run == nil or p.run == status.run) then
      return "; " .. tostring(p.telemetryId) .. " is retrying: " .. tostring(p.message or "no message")
    end
  end
  return ""
end

local spec = obj.spec or {}
local status = obj.status
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

if status == nil or (status.phase == nil and status.conditions == nil) then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to reconcile the Queue"
  return hs
end

local phase = status.phase
local finished = phase == "Succeeded" or phase == "Failed"

-- A reconcile error stops progress until fixed (the operator retries with backoff); it is
-- shown on a Queue that may not have a phase yet.
local stalled = condition(status, "Stalled")
if is_true(stalled) and not finished then
  hs.status = "Degraded"
  hs.message = "Stalled (" .. tostring(stalled.reason) .. "): " .. tostring(stalled.message) ..
    "; the operator retries with backoff"
  return hs
end

if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to see generation " .. tostring(generation) ..
    " (status is of generation " .. tostring(status.observedGeneration or "none") .. ")"
  return hs
end

if phase == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to reconcile the Queue"
  return hs
end

local live = spec.timeRange == nil and type(spec.target) == "string" and string.sub(spec.target, 1, 7) == "loader-"

if phase == "Failed" then
  local failed = condition(status, "Failed")
  local reason = ""
  if failed ~= nil and failed.reason ~= nil and failed.reason ~= "" then
    reason = failed.reason .. ": "
  end
  hs.status = "Degraded"
  hs.message = "Failed: " .. reason .. said(status, "the Queue failed")
  return hs
end

if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = "Succeeded: " .. said(status, "every Job of the run finished")
  if status.recordsWritten ~= nil then
    hs.message = hs.message .. "; " .. tostring(status.recordsWritten) .. " records written"
  end
  return hs
end

if phase == "Stopped" then
  hs.status = "Suspended"
  hs.message = "Suspended: " .. said(status, "spec.suspend is true")
  return hs
end

local ready = condition(status, "Ready")
local reason = ""
if ready ~= nil and ready.reason ~= nil and ready.reason ~= "" then
  reason = " (" .. ready.reason .. ")"
end

if phase == "Pending" then
  hs.status = "Progressing"
  hs.message = "Pending" .. reason .. ": " .. said(status, "Jobs are being created")
  return hs
end

if phase == "Waiting" then
  hs.status = "Progressing"
  hs.message = "Waiting: " .. said(status, "waiting for the Queues in spec.after")
  return hs
end

if phase == "Running" then
  if live then
    local records = records_this_run(status)
    if is_true(ready) and records > 0 then
      hs.status = "Healthy"
      hs.message = "Streaming: " .. tostring(records) .. " records written in run " ..
        tostring(status.run or 1)
      return hs
    end
    hs.status = "Progressing"
    hs.message = "Running: the stream has started, no records reported yet in this run"
    return hs
  end
  local parts = {}
  if status.progress ~= nil then
    table.insert(parts, status.progress)
  end
  if status.recordsWritten ~= nil then
    table.insert(parts, tostring(status.recordsWritten) .. " records")
  end
  local progress = ""
  if #parts > 0 then
    progress = " [" .. table.concat(parts, ", ") .. "]"
  end
  hs.status = "Progressing"
  hs.message = "Running" .. progress .. ": " .. said(status, "a worker started") .. retrying(status)
  return hs
end

hs.status = "Unknown"
hs.message = "unknown phase " .. tostring(phase) .. ": " .. said(status, "no message")
return hs
