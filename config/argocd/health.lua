-- Argo CD health check for database.mohitnagaraj.in/DatabaseMigration.
-- Healthy once the migration is applied; Progressing while it plans,
-- queues, runs or rolls back; Suspended while it waits for a person (an
-- approval, or the switch of a blue-green migration); Degraded when it
-- failed or policy blocked its plan. A spec the controller has not seen
-- yet is Progressing, whatever its last phase was.
local hs = {}
local status = obj.status
if status == nil or status.phase == nil or status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to plan the migration"
  return hs
end
if obj.metadata.generation ~= nil and status.observedGeneration ~= nil
    and status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe the new spec"
  return hs
end
local phase = status.phase
local message = status.message or ""
if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "AwaitingApproval" or phase == "AwaitingSwitch" then
  hs.status = "Suspended"
elseif phase == "Failed" or phase == "Blocked" then
  hs.status = "Degraded"
else
  -- Pending, Planning, Running, RollingBack, and any phase added later.
  hs.status = "Progressing"
end
if message ~= "" then
  hs.message = phase .. ": " .. message
else
  hs.message = phase
end
return hs
