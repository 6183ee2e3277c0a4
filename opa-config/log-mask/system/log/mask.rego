# METADATA
# title: Decision-log mask for the policypacks sidecar
# description: |
#   OPA writes every decision's input to its decision log. The free text an agent sends
#   (message bodies, subjects) stays out of it, as the client's audit store keeps it out
#   too; the decision, its id, the agent and the action type remain. Load it next to the
#   bundle: `policypacks opa run --config opa-config/config.yaml --bundle opa-config/log-mask`.
package system.log

mask contains "/input/action/content/text"

mask contains "/input/action/content/subject"
