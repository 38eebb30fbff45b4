-- wrk script: GET /items/<id> with ids drawn uniformly from 1..N (N follows `--` on wrk's
-- command line). Random rather than one fixed id, so that every request reads its own row as
-- real traffic would and nothing on the path can get away with caching one answer.
-- A fixed seed: every run, and both servers, see the same sequence of ids.

local max_id = 1000

function init(args)
  max_id = tonumber(args[1]) or max_id
  math.randomseed(42)
end

function request()
  return wrk.format(nil, "/items/" .. math.random(1, max_id))
end
