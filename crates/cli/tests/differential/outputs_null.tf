output "nothing" { value = null }
output "something" { value = "x" }
