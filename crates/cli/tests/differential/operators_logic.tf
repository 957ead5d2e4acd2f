output "and" { value = true && false }
output "or" { value = true || false }
output "not" { value = !true }
output "eq" { value = 1 == 1.0 }
output "neq" { value = "a" != "b" }
output "cmp" { value = 2 >= 3 }
output "str_eq_num" { value = "1" == 1 }
