-- wrk: GET /v1/users/u<random>/recommendations?k=10, users 1..N (the first
-- argument after --), so requests spread over the seeded rankings.
local users = 10000
function init(args)
  if args[1] then users = tonumber(args[1]) end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
function request()
  return wrk.format("GET", "/v1/users/u" .. math.random(1, users) .. "/recommendations?k=10")
end
