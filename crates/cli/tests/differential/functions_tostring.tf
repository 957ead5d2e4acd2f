output "num" { value = tostring(5) }
output "bool" { value = tostring(true) }
output "null" { value = tostring(null) }
