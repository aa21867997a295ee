-- wrk script for the read-mostly mix (scripts/bench.sh): cycles through "TOKEN PATH" lines read
-- from the file given after `--`, each wrk thread starting at its own offset.
local reqs = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    local token, path = line:match("^(%S+) (%S+)$")
    if token then
      reqs[#reqs + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
    end
  end
  i = math.random(#reqs) - 1
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
