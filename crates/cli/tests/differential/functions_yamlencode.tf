# terrane-difference: yamlencode and yamldecode are not implemented yet
output "yaml" { value = yamlencode({ a = [1, "x", true, null], b = { c = "multi\nline" } }) }
