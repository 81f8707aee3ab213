-- Suspend a Queue: the operator sends stop to its workers, deletes the run's Jobs and shows
-- phase Stopped.
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.suspend = true
return obj
