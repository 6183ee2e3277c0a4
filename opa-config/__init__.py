"""The sidecar's OPA files (authorization policy, decision-log mask, configs), shipped as
package data so `policypacks opa run` finds them in an installed wheel too."""
