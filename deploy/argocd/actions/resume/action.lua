-- Resume a suspended Queue: the operator starts the next run.
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.suspend = false
return obj
