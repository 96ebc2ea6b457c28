-- PAYSCORE.USER_CONFIRM (payscore.md §8.5): the user confirmed a 需确认 order in the PayScore mini-program (T3);
-- the resource is the order (DOING/USER_CONFIRM, with the user's openid).
-- The notify_url is the examples' receiver (examples/payscore/receiver/: a small nginx whose handler is
-- wechatpay.openresty.handle_notification): it verifies the notification's signature, decrypts its resource with
-- the APIv3 key, records the event and answers 204; this script prints what it received.
--
--   lua5.4 examples/payscore/notify_user_confirm.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function()
  local receiver = common.receiver()
  local out_order_no = common.setup_order{ notify_url = receiver.url }

  -- what the user does: confirm the order (a sandbox control endpoint)
  common.control("POST", "payscore/orders/" .. out_order_no .. "/confirm", {})
  common.step("the user confirmed the order; waiting for the notification")

  local event = receiver.wait("PAYSCORE.USER_CONFIRM", function(ev) return ev.resource.out_order_no == out_order_no end)
  common.show_event(event)
  common.expect(event.resource.state == "DOING" and event.resource.state_description == "USER_CONFIRM", "state")
end)
