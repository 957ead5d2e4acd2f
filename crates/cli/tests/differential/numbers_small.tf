output "add" { value = 1 + 2 }
output "div" { value = 7 / 2 }
output "mod" { value = 7 % 3 }
output "neg" { value = -5 }
output "mul" { value = 6 * 7 }
