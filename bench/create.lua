-- wrk -s bench/create.lua URL -- PREFIX: every request creates a new student, POSTing
-- {"name": "PREFIX-<n>", "age": <n mod 151>} to URL (the students collection) with the headers
-- given by -H (Content-Type and Authorization). One wrk thread (-t1) counts n for all its
-- connections, so every name is new; give each run its own PREFIX.
local prefix = "w"
local n = 0

function init(args)
  prefix = args[1] or prefix
end

function request()
  n = n + 1
  local body = string.format('{"name":"%s-%d","age":%d}', prefix, n, n % 151)
  return wrk.format("POST", nil, nil, body)
end
