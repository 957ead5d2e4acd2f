output "try" { value = try(tonumber("x"), "fallback") }
output "can" { value = can(tonumber("x")) }
