# METADATA
# title: Decision-log mask for the policypacks sidecar
# description: |
#   OPA evaluates `data.system.log.mask` on every decision-log event (the shipped
#   configs set decision_logs.mask_decision to /system/log/mask). Each policypacks bundle
#   carries its identity's part at `policypacks.<identity>.lib.log.mask`, generated from
#   its repository; this is their union, so several identities' bundles share one OPA
#   without overlapping roots (this bundle owns system/log, each identity bundle its
#   own policypacks/<identity>). The decision, its id, the agent and the action type
#   stay; free text, addresses, attachment names and custom fields are erased.
# entrypoint: true
package system.log

# A reference with a variable, not `some x in data.policypacks`: OPA then visits only
# each identity's lib.log.mask, never evaluating the rest of its policy on a log event.
mask contains pointer if {
	some name

	# regal ignore:mixed-iteration
	some pointer in data.policypacks[name].lib.log.mask
}
