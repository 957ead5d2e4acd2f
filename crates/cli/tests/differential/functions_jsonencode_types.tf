output "num" { value = jsonencode(1.5) }
output "nested" { value = jsonencode({ b = [true, null], a = "x<y>&" }) }
output "list" { value = jsonencode(tolist(["a"])) }
