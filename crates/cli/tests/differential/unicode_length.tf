output "len" { value = length("héllo") }
output "upper" { value = upper("straße") }
output "rev" { value = strrev("abc") }
output "substr" { value = substr("hello world", 6, 5) }
