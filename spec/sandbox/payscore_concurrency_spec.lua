-- PayScore state shared by the two nginx workers under simultaneous requests (issue 5 "Concurrency"): 50
-- identical creates give one order and 50 equal answers; 50 creates of one out_order_no with different bodies give
-- exactly one order; racing operations on one order leave it in one consistent state. All requests of a case are in
-- flight together (`curl --parallel`, spec/support/signed_request.lua).

local fixture = require "spec.support.payscore_fixture"

local N = 50

describe("PayScore sandbox: concurrency", function()
  local fx = fixture.setup()
  if not fx then return end

  local CREATE = "/v3/payscore/serviceorder"

  local function workers_since(seq)
    local pids = {}
    for _, r in ipairs(fx.sb:requests()) do
      if r.seq > seq and r.worker then pids[r.worker] = true end
    end
    local count = 0
    for _ in pairs(pids) do count = count + 1 end
    return count
  end

  local function last_seq()
    local list = fx.sb:requests()
    return #list > 0 and list[#list].seq or 0
  end

  it(N .. " simultaneous identical creates: one order, " .. N .. " byte-equal answers", function()
    local no = fixture.new_no("CC")
    local body = fixture.seed(no)
    local reqs = {}
    for i = 1, N do reqs[i] = { "POST", CREATE, { json = body } } end
    local before = last_seq()
    local res = fx.c:parallel(reqs, N)
    for i = 1, N do
      assert.are.equal(200, res[i].status, res[i].body or res[i].curl_error)
      assert.is_true(res[i].verified, tostring(res[i].verify_error))
      assert.are.equal(res[1].body, res[i].body)
    end
    local q = fx:query(no)
    assert.are.equal(200, q.status)
    assert.are.equal(res[1].data.order_id, q.data.order_id)
    assert.are.equal(2, workers_since(before)) -- both workers answered (50 connections over SO_REUSEPORT)
  end)

  it(N .. " simultaneous creates of one out_order_no with different bodies: exactly one order", function()
    local no = fixture.new_no("CD")
    local reqs = {}
    for i = 1, N do
      reqs[i] = { "POST", CREATE, { json = fixture.seed(no, { service_introduction = "服务" .. i }) } }
    end
    local res = fx.c:parallel(reqs, N)
    local winners, refused = {}, 0
    for i = 1, N do
      if res[i].status == 200 then
        winners[#winners + 1] = i
      else
        assert.are.equal(400, res[i].status, res[i].body or res[i].curl_error)
        assert.are.equal("INVALID_REQUEST", res[i].data.code)
        assert.are.equal("请确认相同单号是否使用了不同的参数", res[i].data.message)
        refused = refused + 1
      end
    end
    assert.are.equal(1, #winners)
    assert.are.equal(N - 1, refused)
    local w = winners[1]
    local q = fx:query(no)
    assert.are.equal("服务" .. w, q.data.service_introduction)
    assert.are.equal(res[w].data.order_id, q.data.order_id)
  end)

  it(N .. " simultaneous creates of different orders: none lost", function()
    local reqs, nos = {}, {}
    for i = 1, N do
      nos[i] = fixture.new_no("CN")
      reqs[i] = { "POST", CREATE, { json = fixture.seed(nos[i]) } }
    end
    local res = fx.c:parallel(reqs, N)
    local ids = {}
    for i = 1, N do
      assert.are.equal(200, res[i].status, res[i].body or res[i].curl_error)
      assert.is_nil(ids[res[i].data.order_id]) -- order ids are unique
      ids[res[i].data.order_id] = true
    end
    local st, data = fx:control("GET", "/sandbox/payscore/orders?state=CREATED")
    assert.are.equal(200, st)
    local seen = {}
    for _, o in ipairs(data.data) do seen[o.out_order_no] = o.order_id end
    for i = 1, N do assert.are.equal(res[i].data.order_id, seen[nos[i]]) end
  end)

  it("racing pay and cancel on one completed order leave one consistent outcome", function()
    local no = fx:completed(3000)
    local reqs = {}
    for i = 1, N do
      if i % 2 == 0 then
        reqs[i] = { "POST", "/v3/payscore/serviceorder/" .. no .. "/pay", { json = fx:ids() } }
      else
        reqs[i] = { "POST", "/v3/payscore/serviceorder/" .. no .. "/cancel", { json = fx:ids { reason = "并发" } } }
      end
    end
    local res = fx.c:parallel(reqs, N)
    local final = fx:query(no).data.state
    local ok_pay, ok_cancel = 0, 0
    for i = 1, N do
      local r = res[i]
      if i % 2 == 0 then
        if r.status == 200 then ok_pay = ok_pay + 1
        else
          assert.are.equal(400, r.status, r.body)
          assert.are.equal(final == "DONE" and "ORDER_DONE" or "ORDER_CANCELED", r.data.code)
        end
      else
        if r.status == 200 then ok_cancel = ok_cancel + 1
        else
          assert.are.equal(400, r.status, r.body)
          assert.are.equal("ORDER_DONE", r.data.code)
        end
      end
    end
    if final == "DONE" then
      -- the first deduction won: one pay succeeded, every cancel came after it
      assert.are.equal(1, ok_pay)
      assert.are.equal(0, ok_cancel)
      assert.are.equal(1, #fx:events("PAYSCORE.USER_PAID", no))
    else
      -- a cancel won: no pay succeeded, every cancel succeeded (the identical ones replay)
      assert.are.equal("REVOKED", final)
      assert.are.equal(0, ok_pay)
      assert.are.equal(N / 2, ok_cancel)
      assert.are.equal(0, #fx:events("PAYSCORE.USER_PAID", no))
    end
  end)

  it(N .. " simultaneous identical cancels answer the same bytes", function()
    local no = fx:confirmed()
    local reqs = {}
    for i = 1, N do
      reqs[i] = { "POST", "/v3/payscore/serviceorder/" .. no .. "/cancel", { json = fx:ids { reason = "同一原因" } } }
    end
    local res = fx.c:parallel(reqs, N)
    for i = 1, N do
      assert.are.equal(200, res[i].status, res[i].body)
      assert.are.equal(res[1].body, res[i].body)
    end
    assert.are.equal("REVOKED", fx:query(no).data.state)
  end)
end)
