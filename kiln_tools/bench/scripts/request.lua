-- Requests other than a plain GET (a POST with a body): the method and body from the environment.
local method = os.getenv("WRK_METHOD")
local body = os.getenv("WRK_BODY")
if method ~= "GET" then
  wrk.method = method
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
